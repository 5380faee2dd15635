package main // want package:`tracingSetup\(provider="nopropagator/telemetry", propagator=false\)`

import "nopropagator/telemetry"

func main() { // want `nopropagator: program builds a TracerProvider \(in nopropagator/telemetry\) but sets no propagator`
	telemetry.Init(nil)
}
