package testworld

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// TLS is the material a world serves HTTPS with: its own CA and a server
// certificate for 127.0.0.1, ::1 and localhost. Clients trust it as they
// trust any CA, through SSL_CERT_FILE=CAFile.
type TLS struct {
	Dir                       string
	CAFile, CertFile, KeyFile string
	Config                    *tls.Config
	Pool                      *x509.CertPool
}

// EnsureTLS loads the TLS material in dir, or creates it there: a world,
// a registry process and the clients can then share one CA.
func EnsureTLS(dir string) (*TLS, error) {
	t := &TLS{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem")}
	if _, err := os.Stat(t.KeyFile); errors.Is(err, fs.ErrNotExist) {
		if err := t.create(); err != nil {
			return nil, fmt.Errorf("TLS material in %s: %w", dir, err)
		}
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, err
	}
	t.Pool = x509.NewCertPool()
	if !t.Pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no certificate", t.CAFile)
	}
	// HTTP/2 where the client offers it, as the real services do.
	t.Config = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}, MinVersion: tls.VersionTLS12}
	return t, nil
}

func (t *TLS) create() error {
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "testworld TLS CA", Organization: []string{"k8sverify testworld"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	for path, block := range map[string]*pem.Block{
		t.CAFile:   {Type: "CERTIFICATE", Bytes: caDER},
		t.CertFile: {Type: "CERTIFICATE", Bytes: der},
		t.KeyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// Transport is a client transport trusting the world's CA (for the
// world's own pushes), with HTTP/2.
func (t *TLS) Transport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: t.Pool, MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = true
	return tr
}
