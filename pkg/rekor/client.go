package rekor

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/swag"
	"github.com/sigstore/rekor/pkg/generated/models"

	"github.com/k8sverify/k8sverify/pkg/sigverify"
	"github.com/k8sverify/k8sverify/pkg/transport"
	"github.com/k8sverify/k8sverify/pkg/verify"
)

// Limits of what is read from Rekor.
const (
	maxRekorResponse = 8 << 20
	// maxSearchResults bounds the entries one hash search reads (anyone
	// may log signatures of any digest; past this many, the search is an
	// error naming the count, never a silent cut).
	maxSearchResults = 1024
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{64}([0-9a-f]{16})?$|^[0-9a-f]{80}$`)

// Client reads the Rekor v1 API: index search by artifact hash and
// entries by UUID. It is safe for concurrent use.
type Client struct {
	http    *transport.Client
	base    string
	batches lookupBatches
}

// NewClient returns a client for the Rekor instance at baseURL.
func NewClient(h *transport.Client, baseURL string) *Client {
	return &Client{http: h, base: strings.TrimRight(baseURL, "/")}
}

// URL is the Rekor instance's base URL.
func (c *Client) URL() string { return c.base }

// SearchHash returns the UUIDs of entries for an artifact hash
// ("sha256:<hex>"): POST /api/v1/index/retrieve.
func (c *Client) SearchHash(ctx context.Context, hash string) ([]string, error) {
	body, err := json.Marshal(map[string]string{"hash": hash})
	if err != nil {
		return nil, err
	}
	data, err := c.http.PostJSON(ctx, c.base+"/api/v1/index/retrieve", body, maxRekorResponse)
	if err != nil {
		return nil, fmt.Errorf("rekor search %s: %w", hash, err)
	}
	return parseSearch(hash, data)
}

// parseSearch parses the answer to POST /api/v1/index/retrieve: a list of
// entry UUIDs.
func parseSearch(hash string, data []byte) ([]string, error) {
	var uuids []string
	if err := json.Unmarshal(data, &uuids); err != nil {
		return nil, fmt.Errorf("rekor search %s: %w: %w", hash, verify.ErrEvidenceMalformed, err)
	}
	if len(uuids) > maxSearchResults {
		return nil, fmt.Errorf("rekor search %s: %d entries, more than the %d read: look the signature up by the release's .sig and .cert instead", hash, len(uuids), maxSearchResults)
	}
	for _, u := range uuids {
		if !uuidRE.MatchString(u) {
			return nil, fmt.Errorf("rekor search %s: %w: entry UUID %q", hash, verify.ErrEvidenceMalformed, shorten(u))
		}
	}
	return uuids, nil
}

// Entry fetches one entry with its SET and inclusion proof:
// GET /api/v1/log/entries/{uuid}.
func (c *Client) Entry(ctx context.Context, uuid string) (*models.LogEntryAnon, error) {
	if !uuidRE.MatchString(uuid) {
		return nil, fmt.Errorf("rekor entry: malformed UUID %q", uuid)
	}
	data, err := c.http.Get(ctx, c.base+"/api/v1/log/entries/"+uuid, maxRekorResponse)
	if err != nil {
		return nil, fmt.Errorf("rekor entry %s: %w", uuid, err)
	}
	return parseEntry(uuid, data)
}

// parseEntry parses the answer to GET /api/v1/log/entries/{uuid}: an
// object holding one complete entry.
func parseEntry(uuid string, data []byte) (*models.LogEntryAnon, error) {
	var m map[string]models.LogEntryAnon
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("rekor entry %s: %w: %w", uuid, verify.ErrEvidenceMalformed, err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("rekor entry %s: %w: want one entry, got %d", uuid, verify.ErrEvidenceMalformed, len(m))
	}
	for _, e := range m {
		if e.Body == nil || e.IntegratedTime == nil || e.LogIndex == nil || e.LogID == nil {
			return nil, fmt.Errorf("rekor entry %s: %w: incomplete entry", uuid, verify.ErrEvidenceMalformed)
		}
		return &e, nil
	}
	return nil, errors.New("unreachable")
}

// FindEntries returns the log entries that record exactly this
// hashedrekord: digest, signature and certificate (certDER). It asks Rekor
// for the entry itself (POST /api/v1/log/entries/retrieve with the
// proposed entry, as cosign does), so that unrelated entries for the same
// digest, which anyone can log, cannot crowd it out. Lookups made at about
// the same time share one request, up to ten (Rekor's limit per request;
// see lookupBatch). A server without that endpoint is searched by digest
// (POST /api/v1/index/retrieve) instead.
func (c *Client) FindEntries(ctx context.Context, digestHex string, sig, certDER []byte) ([]*models.LogEntryAnon, error) {
	l := &proposedLookup{digestHex: digestHex, sig: sig, certDER: certDER, done: make(chan struct{})}
	l.key = digestHex + "\x00" + string(sig) + "\x00" + string(certDER)
	l.propose()
	c.batches.add(ctx, c, l)
	select {
	case <-l.done:
	case <-ctx.Done():
		l.abandon()
		return nil, fmt.Errorf("rekor retrieve sha256:%s: %w", digestHex, context.Cause(ctx))
	}
	var he *transport.StatusError
	if errors.As(l.err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 {
		return c.searchEntries(ctx, digestHex, sig, certDER)
	}
	if l.err != nil {
		return nil, fmt.Errorf("rekor retrieve sha256:%s: %w", digestHex, l.err)
	}
	return l.found, nil
}

// proposedLookup is one FindEntries waiting for its batch.
type proposedLookup struct {
	digestHex    string
	sig, certDER []byte
	key          string // the same signature of the same digest: one entry asked for
	proposed     models.ProposedEntry
	done         chan struct{}
	found        []*models.LogEntryAnon // every entry of the batch's answer
	err          error
	batches      *lookupBatches
	batch        *lookupBatch
}

// propose builds the hashedrekord entry the lookup asks for.
func (l *proposedLookup) propose() {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.certDER})
	alg := models.HashedrekordV001SchemaDataHashAlgorithmSha256
	digest := l.digestHex
	l.proposed = &models.Hashedrekord{
		APIVersion: swag.String("0.0.1"),
		Spec: models.HashedrekordV001Schema{
			Data: &models.HashedrekordV001SchemaData{Hash: &models.HashedrekordV001SchemaDataHash{Algorithm: &alg, Value: &digest}},
			Signature: &models.HashedrekordV001SchemaSignature{
				Content:   strfmt.Base64(l.sig),
				PublicKey: &models.HashedrekordV001SchemaSignaturePublicKey{Content: strfmt.Base64(certPEM)},
			},
		},
	}
}

// abandon says the lookup's caller left: it leaves a batch not yet sent;
// a batch in flight that every caller left is cancelled.
func (l *proposedLookup) abandon() {
	bs, b := l.batches, l.batch
	bs.mu.Lock()
	if bs.pending == b {
		b.lookups = slices.DeleteFunc(b.lookups, func(x *proposedLookup) bool { return x == l })
		if b.keys[l.key]--; b.keys[l.key] == 0 {
			delete(b.keys, l.key)
		}
		if len(b.lookups) == 0 {
			bs.pending = nil
			b.timer.Stop()
			b.cancel()
		}
		bs.mu.Unlock()
		return
	}
	bs.mu.Unlock()
	if b.waiting.Add(-1) == 0 {
		b.cancel()
	}
}

// batchWindow is how long the first lookup of a batch waits for others.
// Lookups come in bursts (the signatures of many artifacts arrive within
// a round trip of each other); a round trip to Rekor is tens of
// milliseconds, so a few milliseconds' wait saves many requests. (A var
// only so that a test can widen it: batching must not depend on how busy
// the machine running the test is.)
var batchWindow = 5 * time.Millisecond

// lookupBatches gathers proposed-entry lookups into batches of at most
// maxRetrieveBatch: a batch is sent when full, or batchWindow after its
// first lookup.
type lookupBatches struct {
	mu      sync.Mutex
	pending *lookupBatch
}

// lookupBatch is one request's worth of lookups: at most maxRetrieveBatch
// entries asked for, each once however many lookups want it (a signature
// copied to two repositories is looked up twice at once). Its context is
// cancelled when every caller has left.
type lookupBatch struct {
	lookups []*proposedLookup
	keys    map[string]int // lookups per entry asked for
	ctx     context.Context
	cancel  context.CancelFunc
	waiting atomic.Int32
	timer   *time.Timer
}

func (bs *lookupBatches) add(ctx context.Context, c *Client, l *proposedLookup) {
	bs.mu.Lock()
	b := bs.pending
	if b == nil {
		bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		b = &lookupBatch{ctx: bctx, cancel: cancel, keys: map[string]int{}}
		bs.pending = b
		b.timer = time.AfterFunc(batchWindow, func() {
			bs.mu.Lock()
			due := bs.pending == b
			if due {
				bs.pending = nil
			}
			bs.mu.Unlock()
			if due {
				b.send(c)
			}
		})
	}
	b.lookups = append(b.lookups, l)
	b.keys[l.key]++
	b.waiting.Add(1)
	l.batches, l.batch = bs, b
	full := len(b.keys) == maxRetrieveBatch
	if full {
		bs.pending = nil
	}
	bs.mu.Unlock()
	if full {
		b.timer.Stop()
		go b.send(c)
	}
}

// send asks for the batch's entries and hands the answer to each lookup.
func (b *lookupBatch) send(c *Client) {
	defer b.cancel()
	found, err := c.retrieveProposed(b.ctx, b.lookups)
	// Each entry of the answer is read once, and goes to the lookups of
	// the signature and certificate it records.
	recording := map[string][]*models.LogEntryAnon{}
	for _, e := range found {
		if sig, der, ok := HashedRekordContent(e); ok {
			k := string(sig) + "\x00" + string(der)
			recording[k] = append(recording[k], e)
		}
	}
	for _, l := range b.lookups {
		l.found, l.err = recording[string(l.sig)+"\x00"+string(l.certDER)], err
		close(l.done)
	}
}

// retrieveProposed asks Rekor for the entries of up to ten proposed
// entries in one request. Rekor answers every entry it holds of each, in
// every shard, in no particular order: each caller picks its own.
func (c *Client) retrieveProposed(ctx context.Context, lookups []*proposedLookup) ([]*models.LogEntryAnon, error) {
	q := &models.SearchLogQuery{}
	var entries []models.ProposedEntry
	asked := map[string]bool{}
	for _, l := range lookups {
		if !asked[l.key] {
			asked[l.key] = true
			entries = append(entries, l.proposed)
		}
	}
	q.SetEntries(entries)
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	data, err := c.http.PostJSON(ctx, c.base+"/api/v1/log/entries/retrieve", body, maxRekorResponse)
	if err != nil {
		return nil, err
	}
	return parseEntryList(data, len(entries)*maxShardsPerEntry)
}

// maxShardsPerEntry bounds the copies of one entry an answer may hold:
// Rekor answers a proposed entry with its copy in each shard of the log
// (rekor pkg/api/entries.go SearchLogQueryHandler); the public log has had
// a handful of shards.
const maxShardsPerEntry = 8

// maxRetrieveBatch is what one POST /api/v1/log/entries/retrieve may ask.
const maxRetrieveBatch = 10

// searchEntries searches the index by digest and keeps the entries that
// record this signature.
func (c *Client) searchEntries(ctx context.Context, digestHex string, sig, certDER []byte) ([]*models.LogEntryAnon, error) {
	d, err := sigverify.ParseDigest("sha256:" + digestHex)
	if err != nil {
		return nil, err
	}
	all, err := c.SearchEntries(ctx, d)
	if err != nil {
		return nil, err
	}
	var out []*models.LogEntryAnon
	for _, e := range all {
		if RecordsSignature(e, sig, certDER) {
			out = append(out, e)
		}
	}
	return out, nil
}

// SearchEntries returns every entry the log's index holds for an artifact
// digest (POST /api/v1/index/retrieve), read in batches of ten (POST
// /api/v1/log/entries/retrieve). The index is experimental in Rekor
// (sigstore/rekor#1021): an entry it does not return may still exist, so
// finding none is no proof that nothing was signed.
func (c *Client) SearchEntries(ctx context.Context, d sigverify.Digest) ([]*models.LogEntryAnon, error) {
	uuids, err := c.SearchHash(ctx, d.String())
	if err != nil {
		return nil, err
	}
	var out []*models.LogEntryAnon
	for start := 0; start < len(uuids); start += maxRetrieveBatch {
		batch := uuids[start:min(start+maxRetrieveBatch, len(uuids))]
		entries, err := c.retrieveUUIDs(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, entries...)
	}
	return out, nil
}

func (c *Client) retrieveUUIDs(ctx context.Context, uuids []string) ([]*models.LogEntryAnon, error) {
	body, err := json.Marshal(models.SearchLogQuery{EntryUUIDs: uuids})
	if err != nil {
		return nil, err
	}
	data, err := c.http.PostJSON(ctx, c.base+"/api/v1/log/entries/retrieve", body, maxRekorResponse)
	if err != nil {
		return nil, fmt.Errorf("rekor retrieve %d entries: %w", len(uuids), err)
	}
	return parseEntryList(data, len(uuids)*maxShardsPerEntry)
}

// parseEntryList parses the answer of POST /api/v1/log/entries/retrieve:
// at most max complete entries.
func parseEntryList(data []byte, max int) ([]*models.LogEntryAnon, error) {
	var list []map[string]models.LogEntryAnon
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("rekor: %w: %w", verify.ErrEvidenceMalformed, err)
	}
	if len(list) > max {
		return nil, fmt.Errorf("rekor: %w: %d entries where at most %d were asked for", verify.ErrEvidenceMalformed, len(list), max)
	}
	var out []*models.LogEntryAnon
	for _, m := range list {
		for uuid, e := range m {
			if e.Body == nil || e.IntegratedTime == nil || e.LogIndex == nil || e.LogID == nil {
				return nil, fmt.Errorf("rekor entry %s: %w: incomplete entry", shorten(uuid), verify.ErrEvidenceMalformed)
			}
			out = append(out, &e)
		}
	}
	return out, nil
}

// RecordsSignature reports whether a Rekor entry is a hashedrekord of this
// signature by this certificate. It only selects evidence; pkg/verify
// checks the entry in full.
func RecordsSignature(e *models.LogEntryAnon, sig, certDER []byte) bool {
	s, der, ok := HashedRekordContent(e)
	return ok && string(s) == string(sig) && string(der) == string(certDER)
}

// HashedRekordContent returns the signature and certificate a hashedrekord
// entry records.
func HashedRekordContent(e *models.LogEntryAnon) (sig, certDER []byte, ok bool) {
	s, isString := e.Body.(string)
	if !isString {
		return nil, nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, nil, false
	}
	var env struct {
		Kind string                        `json:"kind"`
		Spec models.HashedrekordV001Schema `json:"spec"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Kind != "hashedrekord" {
		return nil, nil, false
	}
	if env.Spec.Signature == nil || env.Spec.Signature.PublicKey == nil {
		return nil, nil, false
	}
	der, err := CertificateDER(env.Spec.Signature.PublicKey.Content)
	if err != nil {
		return nil, nil, false
	}
	return env.Spec.Signature.Content, der, true
}

// CertificateDER returns the DER of the single certificate in PEM data,
// as a hashedrekord entry's public key and dl.k8s.io's .cert files hold
// it (the latter base64-encoded once more).
func CertificateDER(data []byte) ([]byte, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no PEM certificate", verify.ErrEvidenceMalformed)
	}
	if len(block.Bytes) == 0 {
		return nil, fmt.Errorf("%w: an empty PEM certificate", verify.ErrEvidenceMalformed)
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, fmt.Errorf("%w: more than one PEM block where one certificate is expected", verify.ErrEvidenceMalformed)
	}
	return block.Bytes, nil
}

// shorten cuts s for an error message.
func shorten(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
