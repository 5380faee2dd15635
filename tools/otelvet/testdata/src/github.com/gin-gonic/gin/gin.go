// Package gin is a stub of github.com/gin-gonic/gin.
package gin

import (
	"net/http"
	"time"
)

type HandlerFunc func(*Context)

type Context struct {
	Request *http.Request
	Keys    map[any]any
}

func (c *Context) Set(key any, value any)      {}
func (c *Context) Get(key any) (any, bool)     { return nil, false }
func (c *Context) MustGet(key any) any         { return nil }
func (c *Context) Next()                       {}
func (c *Context) JSON(code int, obj any)      {}
func (c *Context) Param(key string) string     { return "" }
func (c *Context) AbortWithStatus(code int)    {}
func (c *Context) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *Context) Done() <-chan struct{}       { return nil }
func (c *Context) Err() error                  { return nil }
func (c *Context) Value(key any) any           { return nil }

type Engine struct{}

func New() *Engine                                                 { return &Engine{} }
func Default() *Engine                                             { return &Engine{} }
func (e *Engine) Use(middleware ...HandlerFunc)                    {}
func (e *Engine) GET(path string, handlers ...HandlerFunc)         {}
func (e *Engine) POST(path string, handlers ...HandlerFunc)        {}
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {}
func (e *Engine) Run(addr ...string) error                         { return nil }

type H map[string]any
