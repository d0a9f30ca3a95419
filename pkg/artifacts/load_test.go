package artifacts

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/k8sverify/k8sverify/internal/testworld/fakeweb"
)

func TestResolveVersion(t *testing.T) {
	web := fakeweb.Pages{
		"https://dl.example/release/stable-1.24.txt": "v1.24.17\n",
		"https://dl.example/release/stable-1.25.txt": "v1.24.3\n",
		"https://dl.example/release/stable-1.26.txt": "<html>",
	}
	for _, tc := range []struct {
		in   string
		open Opener
		want Version
		err  error
		msg  string
	}{
		{"v1.24.3", nil, Version{1, 24, 3}, nil, ""},
		{"1.24.3", web, Version{1, 24, 3}, nil, ""},
		{"latest-1.24", web, Version{1, 24, 17}, nil, ""},
		{"latest-1.24", nil, Version{}, ErrNeedsNetwork, "latest-1.24 needs the network: it is read from https://dl.example/release/stable-1.24.txt"},
		{"latest-1.23", web, Version{}, fakeweb.ErrNotHere, "resolve latest-1.23"},
		{"latest-1.25", web, Version{}, nil, "names v1.24.3, which is not of line 1.25"},
		{"latest-1.26", web, Version{}, ErrMalformedVersion, "stable-1.26.txt"},
		{"banana", web, Version{}, ErrMalformedVersion, `malformed version "banana"`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ResolveVersion(context.Background(), tc.in, "https://dl.example/", tc.open)
			if got != tc.want || (tc.msg == "") != (err == nil) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			if err != nil && (!strings.Contains(err.Error(), tc.msg) || tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("error %q, want %q wrapping %v", err, tc.msg, tc.err)
			}
		})
	}
}
