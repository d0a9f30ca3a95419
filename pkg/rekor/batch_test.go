package rekor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-openapi/swag"
	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/k8sverify/k8sverify/internal/testworld"
	"github.com/k8sverify/k8sverify/pkg/transport"
)

// echoRekor answers each proposed hashedrekord with an entry recording
// it, and counts requests and the largest batch.
type echoRekor struct {
	requests, largest atomic.Int64
	status            int // when set, every request is answered with it
}

func (e *echoRekor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	if e.status != 0 {
		http.Error(w, "no", e.status)
		return
	}
	var q struct {
		Entries []json.RawMessage `json:"entries"`
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || len(q.Entries) > maxRetrieveBatch {
		http.Error(w, fmt.Sprintf("bad query: %v, %d entries", err, len(q.Entries)), http.StatusUnprocessableEntity)
		return
	}
	for n := int64(len(q.Entries)); ; {
		l := e.largest.Load()
		if n <= l || e.largest.CompareAndSwap(l, n) {
			break
		}
	}
	out := []map[string]models.LogEntryAnon{}
	for i, raw := range q.Entries {
		var p struct {
			Spec json.RawMessage `json:"spec"`
		}
		_ = json.Unmarshal(raw, &p)
		body, _ := json.Marshal(map[string]any{"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": p.Spec})
		out = append(out, map[string]models.LogEntryAnon{fmt.Sprintf("%064x", i): {
			Body: base64.StdEncoding.EncodeToString(body), IntegratedTime: swag.Int64(1), LogIndex: swag.Int64(int64(i)), LogID: swag.String("id"),
		}})
	}
	_ = json.NewEncoder(w).Encode(out)
}

// Lookups made together share requests of at most ten entries, the same
// signature asked for once (an entry asked twice would be answered twice),
// and each caller gets the entry of its own signature.
func TestFindEntriesBatches(t *testing.T) {
	// A window far wider than the time the lookups take to start, however
	// loaded the machine: only full batches and one last partial one.
	defer func(w time.Duration) { batchWindow = w }(batchWindow)
	batchWindow = 2 * time.Second
	e := &echoRekor{}
	srv := httptest.NewServer(e)
	defer srv.Close()
	c := NewClient(transport.New(transport.WithTimeout(5*time.Second)), srv.URL)
	der := testCertDER(t)
	const n = 45
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig := []byte(fmt.Sprintf("signature %d", i%30)) // 15 looked up twice
			got, err := c.FindEntries(context.Background(), fmt.Sprintf("%064x", i%30), sig, der)
			if err != nil || len(got) != 1 || !RecordsSignature(got[0], sig, der) {
				t.Errorf("lookup %d: %d entries, %v", i, len(got), err)
			}
		}()
	}
	wg.Wait()
	// 45 lookups of 30 signatures: 3 full batches of 10 distinct ones at
	// most, and what remains; never one request per lookup.
	if r := e.requests.Load(); r > n/maxRetrieveBatch+2 {
		t.Errorf("%d requests for %d lookups", r, n)
	}
	if l := e.largest.Load(); l < 2 || l > maxRetrieveBatch {
		t.Errorf("largest batch %d", l)
	}
	t.Logf("%d lookups in %d requests (largest batch %d)", n, e.requests.Load(), e.largest.Load())
}

// A caller that leaves does not fail the others of its batch; a refused
// batch sends each caller to the index search.
func TestFindEntriesBatchFailures(t *testing.T) {
	e := &echoRekor{}
	srv := httptest.NewServer(e)
	defer srv.Close()
	c := NewClient(transport.New(transport.WithTimeout(5*time.Second)), srv.URL)
	der := testCertDER(t)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.FindEntries(gone, fmt.Sprintf("%064x", 1), []byte("a"), der); err == nil {
		t.Error("a cancelled lookup succeeded")
	}
	if got, err := c.FindEntries(context.Background(), fmt.Sprintf("%064x", 2), []byte("b"), der); err != nil || len(got) != 1 {
		t.Errorf("after a cancelled one: %d, %v", len(got), err)
	}

	e.status = http.StatusBadRequest
	e.requests.Store(0)
	_, err := c.FindEntries(context.Background(), fmt.Sprintf("%064x", 3), []byte("c"), der)
	if err == nil || e.requests.Load() != 2 {
		t.Errorf("refused: %v after %d requests (want the batch, then the index search)", err, e.requests.Load())
	}
}

// testCertDER is a self-signed certificate: the client only carries it.
func testCertDER(t *testing.T) []byte {
	t.Helper()
	cert, _ := testworld.SelfSigned(t, "test", time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	return cert.Raw
}
