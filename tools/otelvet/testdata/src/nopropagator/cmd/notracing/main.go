// A program that does not trace needs no propagator: not reported.
package main

import "fmt"

func main() { fmt.Println("hello") }
