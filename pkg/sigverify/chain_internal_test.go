package sigverify

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/sigstore/sigstore-go/pkg/root"
)

// chainStandsAt saves the second chain verification only when the chain
// already verified is a chain x509 would accept at the signed time: each
// certificate valid then, and a Fulcio CA valid then that holds its root
// and intermediates. Any other case is verified afresh (false here).
func TestChainStandsAt(t *testing.T) {
	t0 := time.Date(2023, 8, 22, 16, 0, 0, 0, time.UTC)
	cert := func(cn string, notBefore, notAfter time.Time) *x509.Certificate {
		c, _ := testworld.SelfSigned(t, cn, notBefore, notAfter)
		return c
	}
	long := func(cn string) *x509.Certificate { return cert(cn, t0.AddDate(-1, 0, 0), t0.AddDate(5, 0, 0)) }
	rootCert, inter, otherInter, otherRoot := long("root"), long("intermediate"), long("other intermediate"), long("other root")
	shortInter := cert("intermediate", t0.AddDate(-1, 0, 0), t0.Add(5*time.Minute))
	leaf := cert("leaf", t0, t0.Add(10*time.Minute))
	ca := &root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{inter, shortInter}}
	retired := &root.FulcioCertificateAuthority{Root: rootCert, Intermediates: []*x509.Certificate{inter}, ValidityPeriodEnd: t0.Add(time.Minute)}
	at := t0.Add(8 * time.Minute)
	cases := []struct {
		name  string
		cas   []*root.FulcioCertificateAuthority
		chain []*x509.Certificate
		want  bool
	}{
		{"every certificate and the CA valid", []*root.FulcioCertificateAuthority{ca}, []*x509.Certificate{leaf, inter, rootCert}, true},
		{"the intermediate expired before", []*root.FulcioCertificateAuthority{ca}, []*x509.Certificate{leaf, shortInter, rootCert}, false},
		{"the CA's validity period over", []*root.FulcioCertificateAuthority{retired}, []*x509.Certificate{leaf, inter, rootCert}, false},
		{"an intermediate the CA does not hold", []*root.FulcioCertificateAuthority{ca}, []*x509.Certificate{leaf, otherInter, rootCert}, false},
		{"a root of no CA", []*root.FulcioCertificateAuthority{ca}, []*x509.Certificate{leaf, inter, otherRoot}, false},
		{"a retired CA and a current one", []*root.FulcioCertificateAuthority{retired, ca}, []*x509.Certificate{leaf, inter, rootCert}, true},
		{"no CA", nil, []*x509.Certificate{leaf, inter, rootCert}, false},
		{"the leaf alone", []*root.FulcioCertificateAuthority{ca}, []*x509.Certificate{leaf}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := &Verifier{fulcio: tc.cas}
			if got := v.chainStandsAt([][]*x509.Certificate{tc.chain}, at); got != tc.want {
				t.Errorf("chainStandsAt = %v, want %v", got, tc.want)
			}
		})
	}
	if (&Verifier{fulcio: []*root.FulcioCertificateAuthority{ca}}).chainStandsAt([][]*x509.Certificate{{leaf, inter, rootCert}}, t0.Add(11*time.Minute)) {
		t.Error("a chain whose leaf expired stands")
	}
}
