// Package echo is a stub of github.com/labstack/echo/v4.
package echo

import "net/http"

type Context interface {
	Request() *http.Request
	SetRequest(r *http.Request)
	Get(key string) any
	Set(key string, val any)
	JSON(code int, i any) error
	String(code int, s string) error
}

type HandlerFunc func(c Context) error

type MiddlewareFunc func(next HandlerFunc) HandlerFunc

type Echo struct{}

func New() *Echo                                                    { return &Echo{} }
func (e *Echo) Use(middleware ...MiddlewareFunc)                    {}
func (e *Echo) GET(path string, h HandlerFunc, m ...MiddlewareFunc) {}
func (e *Echo) ServeHTTP(w http.ResponseWriter, r *http.Request)    {}
func (e *Echo) Start(address string) error                          { return nil }

func WrapMiddleware(m func(http.Handler) http.Handler) MiddlewareFunc { return nil }
