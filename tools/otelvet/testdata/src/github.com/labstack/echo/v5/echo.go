// Package echo is a stub of github.com/labstack/echo/v5, where Context is a struct.
package echo

import "net/http"

type Context struct{ request *http.Request }

func (c *Context) Request() *http.Request     { return c.request }
func (c *Context) SetRequest(r *http.Request) { c.request = r }
func (c *Context) Get(key string) any         { return nil }
func (c *Context) Set(key string, val any)    {}

type HandlerFunc func(c *Context) error
