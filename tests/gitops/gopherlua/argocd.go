package main

// What Argo CD's application controller does with a health check from argocd-cm, mirrored
// from Argo CD v3.5.1 (Apache License 2.0; github.com/argoproj/argo-cd, tag v3.5.1):
//
//   - overridesFromConfigMap: util/settings/settings.go, appendResourceOverridesFromSplitKeys
//     and convertToOverrideKey (only the "health" and "useOpenLibs" customization types);
//   - configMapKey: util/lua/lua.go, GetConfigMapKey;
//   - runLua: util/lua/lua.go, runLuaWithResourceActionParameters (no action parameters
//     for a health check: actionParams is an empty table);
//   - executeHealthLua, isValidHealthStatusCode: util/lua/lua.go, ExecuteHealthLua;
//   - decodeValue: util/lua/lua.go, decodeValue;
//   - openSafeOs, safeOsLoader: util/lua/oslib_safe.go, OpenSafeOs and SafeOsLoader;
//   - resourceHealth: gitops-engine/pkg/health/health.go, GetResourceHealth, up to the
//     override (a MonitoredService has no built-in check), with
//     gitops-engine/pkg/sync/hook/hook.go, HasHookFinalizer.
//
// Argo CD's own packages cannot be imported here (its gitops-engine module does not resolve
// on this machine's module proxy), so these are rewritten against the same libraries at the
// versions Argo CD v3.5.1 pins: github.com/yuin/gopher-lua v1.1.2 and layeh.com/gopher-json.
// One difference, on purpose: Argo CD's safe os functions (time, date) are a copy of
// gopher-lua's own; here they are gopher-lua's own, taken from its os library.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	luajson "layeh.com/gopher-json"
)

// healthStatus is gitops-engine's health.HealthStatus.
type healthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// resourceOverride holds the two fields of Argo CD's v1alpha1.ResourceOverride a health check uses.
type resourceOverride struct {
	HealthLua   string
	UseOpenLibs bool
}

const (
	customizationsPrefix = "resource.customizations"
	hookFinalizer        = "argocd.argoproj.io/hook-finalizer"
	invalidHealthStatus  = "Lua returned an invalid health status"
	incorrectReturnType  = "expect %s output from Lua script, not %s"
)

func overridesFromConfigMap(data map[string]string) (map[string]resourceOverride, error) {
	out := map[string]resourceOverride{}
	for key, value := range data {
		if !strings.HasPrefix(key, customizationsPrefix) {
			continue
		}
		// resource.customizations.<type>.<group_kind>
		parts := strings.SplitN(key, ".", 4)
		if len(parts) < 4 {
			continue
		}
		overrideKey, err := overrideKeyOf(parts[3])
		if err != nil {
			return nil, err
		}
		if overrideKey == "all" {
			overrideKey = "*/*"
		}
		override := out[overrideKey]
		switch parts[2] {
		case "health":
			override.HealthLua = value
		case "useOpenLibs":
			useOpenLibs, err := strconv.ParseBool(value)
			if err != nil {
				return nil, err
			}
			override.UseOpenLibs = useOpenLibs
		default:
			return nil, fmt.Errorf("%s: only health checks are mirrored here", key)
		}
		out[overrideKey] = override
	}
	return out, nil
}

func overrideKeyOf(groupKind string) (string, error) {
	parts := strings.Split(groupKind, "_")
	switch {
	case len(parts) == 2:
		return parts[0] + "/" + parts[1], nil
	case len(parts) == 1 && groupKind != "":
		return groupKind, nil
	}
	return "", fmt.Errorf("group kind should be in format `resource.customizations.<type>.<group_kind>` or resource.customizations.<type>.<kind>`, got group kind: '%s'", groupKind)
}

func configMapKey(obj *unstructured.Unstructured) string {
	gvk := obj.GroupVersionKind()
	if gvk.Group == "" {
		return gvk.Kind
	}
	return gvk.Group + "/" + gvk.Kind
}

// resourceHealth is what Argo CD shows for obj: "Pending deletion" for an object being deleted
// (the script is not run), otherwise the script's result, or Unknown with the script's error.
func resourceHealth(obj *unstructured.Unstructured, override resourceOverride) (*healthStatus, error) {
	if obj.GetDeletionTimestamp() != nil && !hasHookFinalizer(obj) {
		return &healthStatus{Status: "Progressing", Message: "Pending deletion"}, nil
	}
	result, err := executeHealthLua(obj, override.HealthLua, override.UseOpenLibs)
	if err != nil {
		return &healthStatus{Status: "Unknown", Message: err.Error()}, err
	}
	return result, nil
}

func hasHookFinalizer(obj *unstructured.Unstructured) bool {
	for _, finalizer := range obj.GetFinalizers() {
		if finalizer == hookFinalizer {
			return true
		}
	}
	return false
}

func executeHealthLua(obj *unstructured.Unstructured, script string, useOpenLibs bool) (*healthStatus, error) {
	l, err := runLua(obj, script, useOpenLibs)
	if err != nil {
		return nil, err
	}
	returned := l.Get(-1)
	switch returned.Type() {
	case lua.LTTable:
		encoded, err := luajson.Encode(returned)
		if err != nil {
			return nil, err
		}
		status := &healthStatus{}
		if err := json.Unmarshal(encoded, status); err != nil {
			// An empty table encodes as [], which Argo CD reads as "no health".
			typeError := &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[*healthStatus]()}
			if errors.As(err, &typeError) {
				return &healthStatus{}, nil
			}
			return nil, err
		}
		if !isValidHealthStatusCode(status.Status) {
			return &healthStatus{Status: "Unknown", Message: invalidHealthStatus}, nil
		}
		return status, nil
	case lua.LTNil:
		return &healthStatus{}, nil
	}
	return nil, fmt.Errorf(incorrectReturnType, "table", returned.Type().String())
}

func isValidHealthStatusCode(code string) bool {
	switch code {
	case "Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing":
		return true
	}
	return false
}

func runLua(obj *unstructured.Unstructured, script string, useOpenLibs bool) (*lua.LState, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: !useOpenLibs})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.OsLibName, openSafeOs},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			panic(err)
		}
	}
	l.PreloadModule(lua.OsLibName, safeOsLoader)

	ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
	defer cancel()
	l.SetContext(ctx)

	l.SetGlobal("actionParams", l.CreateTable(0, 0))
	l.SetGlobal("obj", decodeValue(l, obj.Object))
	err := l.DoString(script)

	// Argo CD drops the Lua stack trace from run-time errors: they reach the user.
	var apiErr *lua.ApiError
	if errors.As(err, &apiErr) && apiErr.Type == lua.ApiErrorRun {
		apiErr.StackTrace = ""
		err = apiErr
	}
	return l, err
}

// safeOsFuncs are os.time and os.date; nothing that exits, runs or opens anything.
func safeOsFuncs() map[string]lua.LGFunction {
	scratch := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer scratch.Close()
	lua.OpenOs(scratch)
	osLib := scratch.GetGlobal(lua.OsLibName).(*lua.LTable)
	return map[string]lua.LGFunction{
		"time": osLib.RawGetString("time").(*lua.LFunction).GFunction,
		"date": osLib.RawGetString("date").(*lua.LFunction).GFunction,
	}
}

// openSafeOs registers the safe functions under lua.TabLibName, as Argo CD's OpenSafeOs does:
// they land in the table library (table.time, table.date), and no global os is defined.
func openSafeOs(l *lua.LState) int {
	mod := l.RegisterModule(lua.TabLibName, safeOsFuncs())
	l.Push(mod)
	return 1
}

// safeOsLoader makes require("os") return the safe functions.
func safeOsLoader(l *lua.LState) int {
	mod := l.SetFuncs(l.NewTable(), safeOsFuncs())
	l.Push(mod)
	return 1
}

// decodeValue turns the object's JSON values into Lua values; integers arrive as int64 from
// unstructured (Argo CD's comment: "the value would have type int64 while actually running in
// the controller"), json.Number as a string, anything unknown as nil.
func decodeValue(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case json.Number:
		return lua.LString(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(decodeValue(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetH(lua.LString(key), decodeValue(l, item))
		}
		return tbl
	}
	return lua.LNil
}
