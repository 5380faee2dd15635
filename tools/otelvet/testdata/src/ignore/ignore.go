package ignore

func f() {
	//otelvet:ignore spanend the worker ends it
	_ = 1
	//otelvet:ignore spanend,timestamp both are handled by the replay tool
	_ = 2
	// otelvet:ignore spanend a space after the slashes is accepted too
	_ = 3
	//otelvet:ignore spanend // want `ignore: otelvet:ignore spanend needs a reason: //otelvet:ignore spanend <why this finding is fine>`
	_ = 4
	//otelvet:ignore // want `ignore: otelvet:ignore needs a check name and a reason`
	_ = 5
	//otelvet:ignore spanned typo in the check name // want `ignore: otelvet:ignore names unknown check spanned; known checks: noexporter, nopropagator`
	_ = 6
	//otelvet:ignoreall is not a directive
	_ = 7
}
