package evidence

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/go-openapi/strfmt"
	"github.com/go-openapi/swag"
	"github.com/sigstore/rekor/pkg/generated/models"

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

// RekorClient reads the Rekor v1 API: index search by artifact hash and
// entries by UUID. It is safe for concurrent use.
type RekorClient struct {
	http *HTTPClient
	base string
}

// NewRekorClient returns a client for the Rekor instance at baseURL.
func NewRekorClient(h *HTTPClient, baseURL string) *RekorClient {
	return &RekorClient{http: h, base: strings.TrimRight(baseURL, "/")}
}

// SearchHash returns the UUIDs of entries for an artifact hash
// ("sha256:<hex>"): POST /api/v1/index/retrieve.
func (c *RekorClient) SearchHash(ctx context.Context, hash string) ([]string, error) {
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
		return nil, fmt.Errorf("rekor search %s: %w: %w", hash, ErrMalformedEvidence, err)
	}
	if len(uuids) > maxSearchResults {
		return nil, fmt.Errorf("rekor search %s: %d entries, more than the %d read: look the signature up by the release's .sig and .cert instead", hash, len(uuids), maxSearchResults)
	}
	for _, u := range uuids {
		if !uuidRE.MatchString(u) {
			return nil, fmt.Errorf("rekor search %s: %w: entry UUID %q", hash, ErrMalformedEvidence, shorten(u))
		}
	}
	return uuids, nil
}

// Entry fetches one entry with its SET and inclusion proof:
// GET /api/v1/log/entries/{uuid}.
func (c *RekorClient) Entry(ctx context.Context, uuid string) (*models.LogEntryAnon, error) {
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
		return nil, fmt.Errorf("rekor entry %s: %w: %w", uuid, ErrMalformedEvidence, err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("rekor entry %s: %w: want one entry, got %d", uuid, ErrMalformedEvidence, len(m))
	}
	for _, e := range m {
		if e.Body == nil || e.IntegratedTime == nil || e.LogIndex == nil || e.LogID == nil {
			return nil, fmt.Errorf("rekor entry %s: %w: incomplete entry", uuid, ErrMalformedEvidence)
		}
		return &e, nil
	}
	return nil, errors.New("unreachable")
}

// FindEntries returns the log entries that record exactly this
// hashedrekord: digest, signature and certificate (certDER). It asks Rekor
// for the entry itself (POST /api/v1/log/entries/retrieve with the
// proposed entry, as cosign does), so that unrelated entries for the same
// digest, which anyone can log, cannot crowd it out. A server without that
// endpoint is searched by digest (POST /api/v1/index/retrieve) instead.
func (c *RekorClient) FindEntries(ctx context.Context, digestHex string, sig, certDER []byte) ([]*models.LogEntryAnon, error) {
	entries, err := c.retrieveProposed(ctx, digestHex, sig, certDER)
	var he *HTTPError
	if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 {
		return c.searchEntries(ctx, digestHex, sig, certDER)
	}
	if err != nil {
		return nil, err
	}
	var out []*models.LogEntryAnon
	for _, e := range entries {
		if RecordsSignature(e, sig, certDER) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (c *RekorClient) retrieveProposed(ctx context.Context, digestHex string, sig, certDER []byte) ([]*models.LogEntryAnon, error) {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	alg := models.HashedrekordV001SchemaDataHashAlgorithmSha256
	proposed := &models.Hashedrekord{
		APIVersion: swag.String("0.0.1"),
		Spec: models.HashedrekordV001Schema{
			Data: &models.HashedrekordV001SchemaData{Hash: &models.HashedrekordV001SchemaDataHash{Algorithm: &alg, Value: &digestHex}},
			Signature: &models.HashedrekordV001SchemaSignature{
				Content:   strfmt.Base64(sig),
				PublicKey: &models.HashedrekordV001SchemaSignaturePublicKey{Content: strfmt.Base64(certPEM)},
			},
		},
	}
	q := &models.SearchLogQuery{}
	q.SetEntries([]models.ProposedEntry{proposed})
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	data, err := c.http.PostJSON(ctx, c.base+"/api/v1/log/entries/retrieve", body, maxRekorResponse)
	if err != nil {
		return nil, fmt.Errorf("rekor retrieve sha256:%s: %w", digestHex, err)
	}
	return parseEntryList(data)
}

// maxRetrieveBatch is what one POST /api/v1/log/entries/retrieve may ask.
const maxRetrieveBatch = 10

// searchEntries searches the index by digest and keeps the entries that
// record this signature.
func (c *RekorClient) searchEntries(ctx context.Context, digestHex string, sig, certDER []byte) ([]*models.LogEntryAnon, error) {
	d, err := verify.ParseDigest("sha256:" + digestHex)
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
func (c *RekorClient) SearchEntries(ctx context.Context, d verify.Digest) ([]*models.LogEntryAnon, error) {
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

func (c *RekorClient) retrieveUUIDs(ctx context.Context, uuids []string) ([]*models.LogEntryAnon, error) {
	body, err := json.Marshal(models.SearchLogQuery{EntryUUIDs: uuids})
	if err != nil {
		return nil, err
	}
	data, err := c.http.PostJSON(ctx, c.base+"/api/v1/log/entries/retrieve", body, maxRekorResponse)
	if err != nil {
		return nil, fmt.Errorf("rekor retrieve %d entries: %w", len(uuids), err)
	}
	return parseEntryList(data)
}

func parseEntryList(data []byte) ([]*models.LogEntryAnon, error) {
	var list []map[string]models.LogEntryAnon
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("rekor: %w: %w", ErrMalformedEvidence, err)
	}
	if len(list) > maxRetrieveBatch {
		return nil, fmt.Errorf("rekor: %w: %d entries where at most %d were asked for", ErrMalformedEvidence, len(list), maxRetrieveBatch)
	}
	var out []*models.LogEntryAnon
	for _, m := range list {
		for uuid, e := range m {
			if e.Body == nil || e.IntegratedTime == nil || e.LogIndex == nil || e.LogID == nil {
				return nil, fmt.Errorf("rekor entry %s: %w: incomplete entry", shorten(uuid), ErrMalformedEvidence)
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
	s, der, ok := hashedRekordContent(e)
	return ok && string(s) == string(sig) && string(der) == string(certDER)
}

// hashedRekordContent returns the signature and certificate a hashedrekord
// entry records.
func hashedRekordContent(e *models.LogEntryAnon) (sig, certDER []byte, ok bool) {
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
	der, err := certDERFromPEM(env.Spec.Signature.PublicKey.Content)
	if err != nil {
		return nil, nil, false
	}
	return env.Spec.Signature.Content, der, true
}
