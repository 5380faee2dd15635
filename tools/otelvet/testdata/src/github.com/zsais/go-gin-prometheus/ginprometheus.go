// Package ginprometheus is a stub of github.com/zsais/go-gin-prometheus.
package ginprometheus

import "github.com/gin-gonic/gin"

type Prometheus struct{}

func NewPrometheus(subsystem string) *Prometheus { return &Prometheus{} }
func (p *Prometheus) Use(e *gin.Engine)          {}
