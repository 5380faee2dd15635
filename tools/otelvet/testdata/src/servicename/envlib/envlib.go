// Package envlib reads settings from the environment.
package envlib

import "os"

// Get returns the variable or the fallback, but only when the variable is
// unset: set to "", it returns "".
func Get(key, fallback string) string { // want Get:"envString"
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return fallback
}

// GetNonEmpty returns the variable, or the fallback when it is empty.
func GetNonEmpty(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
