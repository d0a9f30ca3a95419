package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Defaults of the public Kubernetes and Sigstore infrastructure.
const (
	DefaultDownloadURL = "https://dl.k8s.io"
	DefaultSBOMURL     = "https://sbom.k8s.io"
	DefaultRegistry    = "registry.k8s.io"
	DefaultRekorURL    = "https://rekor.sigstore.dev"
	// DefaultChannelsURL is the raw-file host the independent channels
	// (a line's CHANGELOG, the image promoter's manifest) are read from.
	DefaultChannelsURL = "https://raw.githubusercontent.com"
)

// ErrInsecureURL is returned for a plain-http URL of a non-loopback host.
var ErrInsecureURL = errors.New("plain http is allowed only for loopback hosts")

// ErrPlainHTTPServer: an https request was answered in plain http (the
// server speaks only http on that port).
var ErrPlainHTTPServer = errors.New("the server answers only plain http")

// plainHTTPAnswer marks the error of an https request answered in plain
// http with ErrPlainHTTPServer: the TLS handshake read "HTTP/" where a
// TLS record begins (net/http's ErrSchemeMismatch, which http.Client
// makes of it only when the error reaches it unwrapped).
func plainHTTPAnswer(err error) error {
	var header tls.RecordHeaderError
	if errors.Is(err, http.ErrSchemeMismatch) || (errors.As(err, &header) && string(header.RecordHeader[:]) == "HTTP/") {
		return fmt.Errorf("%w (%w)", ErrPlainHTTPServer, http.ErrSchemeMismatch)
	}
	return err
}

// Endpoints are where a release and its evidence live.
type Endpoints struct {
	DownloadURL string // release download site, e.g. https://dl.k8s.io
	SBOMURL     string // release SBOMs, e.g. https://sbom.k8s.io
	Registry    string // image registry host[:port][/prefix], e.g. registry.k8s.io
	RekorURL    string // Rekor transparency log, e.g. https://rekor.sigstore.dev
	// ChannelsURL is the raw-file host of kubernetes/kubernetes and
	// kubernetes/k8s.io, e.g. https://raw.githubusercontent.com; "" reads
	// no channel (every artifact they could bind says so).
	ChannelsURL string
}

func (e *Endpoints) Validate() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{EndpointDownload, &e.DownloadURL}, {EndpointSBOM, &e.SBOMURL}, {EndpointChannels, &e.ChannelsURL}} {
		if f.v == &e.ChannelsURL && *f.v == "" {
			continue
		}
		if err := CheckURL(*f.v); err != nil {
			return &EndpointError{Endpoint: f.name, Err: err}
		}
		*f.v = strings.TrimRight(*f.v, "/")
	}
	if e.Registry == "" || strings.Contains(e.Registry, "://") {
		return &EndpointError{Endpoint: EndpointRegistry, Err: fmt.Errorf("%q: want host[:port][/prefix] without a scheme, e.g. registry.k8s.io", e.Registry)}
	}
	e.Registry = strings.TrimRight(e.Registry, "/")
	return nil
}

// The endpoints an EndpointError names.
const (
	EndpointDownload = "download site"
	EndpointSBOM     = "SBOM site"
	EndpointRegistry = "registry"
	EndpointRekor    = "Rekor"
	EndpointChannels = "channels host"
)

// EndpointError says which endpoint of a configuration is not acceptable.
type EndpointError struct {
	Endpoint string // EndpointDownload, EndpointSBOM, EndpointRegistry, EndpointRekor
	Err      error
}

func (e *EndpointError) Error() string { return e.Endpoint + ": " + e.Err.Error() }
func (e *EndpointError) Unwrap() error { return e.Err }

// CheckURL accepts an absolute https URL, or an http URL of a loopback host.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse %q: %w", Redact(raw), err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", Redact(raw))
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials in URLs are not accepted", Redact(raw))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: a base URL takes no query or fragment", Redact(raw))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: %w", Redact(raw), ErrInsecureURL)
	default:
		return fmt.Errorf("%q: unsupported scheme %q (want https)", Redact(raw), u.Scheme)
	}
}

// CheckRedirectTarget accepts where a server redirects to: its scheme and
// host only, as CheckURL would (https, or http to a loopback host; no
// credentials). A query is the target's business: a CDN or a mirror with
// signed URLs (dl.k8s.io redirects to cdn.dl.k8s.io) adds one.
func CheckRedirectTarget(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("%q: credentials in URLs are not accepted", Redact(u.String()))
	}
	return CheckURL((&url.URL{Scheme: u.Scheme, Host: u.Host}).String())
}

// IsLoopback reports whether host is this machine: localhost, a loopback
// IP address, or the unspecified address (0.0.0.0, ::), which a dial
// reaches this machine at too.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// Redact removes credentials and the query from a URL for logs and errors.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return u.String()
}
