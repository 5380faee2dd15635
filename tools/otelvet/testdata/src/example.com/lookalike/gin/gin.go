// Package gin is NOT Gin: it only looks like it. No check may fire on it.
package gin

import (
	"context"
	"net/http"
)

type Context struct {
	Request *http.Request
}

func (c *Context) Set(key string, value context.Context) {}
