package main // want package:`tracingSetup\(provider="nopropagator/telemetry", propagator=true\)`

import (
	"nopropagator/propsetup"
	"nopropagator/telemetry"
)

// The propagator is set in another package of the program: not reported.
func main() {
	telemetry.Init(nil)
	propsetup.Init()
}
