package testworld

import (
	"io"
	"log"
)

func discardLogger() *log.Logger    { return log.New(io.Discard, "", 0) }
func discardStdLogger() *log.Logger { return log.New(io.Discard, "", 0) }
