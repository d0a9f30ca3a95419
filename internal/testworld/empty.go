package testworld

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
)

func emptyIndex() v1.ImageIndex { return empty.Index }
