package evidence

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/k8sverify/k8sverify/pkg/transport"
)

// registryMemo remembers, for a run, what a registry answers the same to
// every repository, so that it is asked once rather than once per
// repository or per image:
//
//   - its ping (GET /v2/ without credentials): go-containerregistry pings
//     the registry for each repository it reads, to learn how to
//     authenticate; the answer depends on the registry alone (the
//     distribution spec's API version check).
//   - that it does not speak TLS: go-containerregistry pings over https
//     first, then over http where plain http is allowed (a registry on
//     loopback, or AllowHTTPRegistry); a registry that answered an
//     https request with bytes that are no TLS record serves plain http
//     at that address, and each later https request to it fails alike
//     at once rather than sending another TLS hello.
//   - whether it has the referrers API: a registry without it answers a
//     referrers request 404 (or 400, 405, 406) with no OCI error code
//     NAME_UNKNOWN, and go-containerregistry then reads the referrers
//     tag instead (the distribution spec's fallback). Later referrers
//     requests to it are answered with that same answer at once; one
//     that answers 200 is asked every time.
//
// Only answers read whole are kept, and nothing that depends on the
// credentials sent. It is shared by a fetcher's registry sessions and safe
// for concurrent use.
type registryMemo struct {
	mu    sync.Mutex
	pings map[string]*memoAnswer // by scheme://host
	// api: whether a registry has the referrers API; ok: it has not, and
	// this is its answer.
	api map[string]*memoAnswer
}

// memoAnswer is an answer kept whole; ready closes when it is known (ok:
// it may be replayed).
type memoAnswer struct {
	ready  chan struct{}
	ok     bool
	err    error // kept: the request's error (no TLS at the address)
	status int
	header http.Header
	body   []byte
}

// replay returns the kept answer as an answer to req.
func (a *memoAnswer) replay(req *http.Request) *http.Response {
	return &http.Response{
		Status: http.StatusText(a.status), StatusCode: a.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: a.header.Clone(), Body: io.NopCloser(bytes.NewReader(a.body)),
		ContentLength: int64(len(a.body)), Request: req,
	}
}

// keep reads resp whole and records it in a; resp's body is replaced by
// the bytes read.
func (a *memoAnswer) keep(resp *http.Response) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistryResponse+1))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if len(data) > maxRegistryResponse {
		return transport.ErrBodyTooLarge
	}
	resp.Body, resp.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	a.ok, a.status, a.header, a.body = true, resp.StatusCode, resp.Header.Clone(), data
	return nil
}

// isPing: GET /v2/ without credentials.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/" && req.Header.Get("Authorization") == ""
}

// isReferrers: GET /v2/<name>/referrers/<digest>.
func isReferrers(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.HasPrefix(req.URL.Path, "/v2/") && strings.Contains(req.URL.Path, "/referrers/")
}

// ping answers req from the memo, or sends it with send and keeps a
// usable answer (200 or 401). Concurrent pings of one registry wait for
// the first.
func (m *registryMemo) ping(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return m.answer(&m.pings, req, send, func(resp *http.Response, a *memoAnswer) (bool, error) {
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
			return false, nil
		}
		err := a.keep(resp)
		return a.ok, err
	})
}

// referrers answers req at once when its registry is known to lack the
// referrers API; else it sends it, and learns from the answer. While the
// first referrers request to a registry is out, the others wait for it.
func (m *registryMemo) referrers(req *http.Request, send func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	return m.answer(&m.api, req, send, func(resp *http.Response, a *memoAnswer) (bool, error) {
		if !lacksReferrersAPI(resp.StatusCode) {
			// A 200: the API answers, and every request is sent.
			return resp.StatusCode == http.StatusOK, nil
		}
		if err := a.keep(resp); err != nil {
			return false, err
		}
		if nameUnknown(a.body) {
			a.ok = false // an unknown repository says nothing of the API
		}
		return a.ok, nil
	})
}

// answer is the memo's single flight for one kind of request, by
// scheme://host in *table: the first request is sent, and learn says from
// its answer whether the question is decided, keeping the answer for
// replay (a.ok) when it is to be replayed; the others wait for it, then
// replay it or are sent themselves. An undecided question leaves the
// table, so the next request asks again.
func (m *registryMemo) answer(table *map[string]*memoAnswer, req *http.Request, send func(*http.Request) (*http.Response, error), learn func(*http.Response, *memoAnswer) (bool, error)) (*http.Response, error) {
	key := req.URL.Scheme + "://" + req.URL.Host
	m.mu.Lock()
	if *table == nil {
		*table = map[string]*memoAnswer{}
	}
	a, known := (*table)[key]
	if !known {
		a = &memoAnswer{ready: make(chan struct{})}
		(*table)[key] = a
	}
	m.mu.Unlock()
	if known {
		select {
		case <-a.ready:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
		switch {
		case a.ok && a.err != nil:
			return nil, a.err
		case a.ok:
			return a.replay(req), nil
		}
		return send(req)
	}
	defer close(a.ready)
	resp, err := send(req)
	decided := false
	if err == nil {
		decided, err = learn(resp, a)
	} else if noTLS(req, err) {
		a.ok, a.err, decided = true, err, true
	}
	if !decided {
		a.ok = false
		m.mu.Lock()
		delete(*table, key)
		m.mu.Unlock()
	}
	return resp, err
}

// lacksReferrersAPI: the statuses go-containerregistry takes for a
// registry without the referrers API.
func lacksReferrersAPI(status int) bool {
	switch status {
	case http.StatusNotFound, http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotAcceptable:
		return true
	}
	return false
}

// nameUnknown: an OCI error answer naming an unknown repository, which a
// registry with the referrers API may give too.
func nameUnknown(body []byte) bool {
	var e struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	for _, x := range e.Errors {
		if x.Code == "NAME_UNKNOWN" {
			return true
		}
	}
	return false
}

// noTLS: an https request answered with bytes that are no TLS record (the
// address serves plain http, transport.ErrPlainHTTPServer, or something
// else than TLS).
func noTLS(req *http.Request, err error) bool {
	var rh tls.RecordHeaderError
	return req.URL.Scheme == "https" && (errors.As(err, &rh) || errors.Is(err, transport.ErrPlainHTTPServer))
}
