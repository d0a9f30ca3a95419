package evidence

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sigstore/rekor/pkg/generated/models"
)

// Limits of what is read from Rekor.
const (
	maxRekorResponse = 8 << 20
	maxSearchResults = 256
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

// URL is the Rekor instance's base URL.
func (c *RekorClient) URL() string { return c.base }

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
	var uuids []string
	if err := json.Unmarshal(data, &uuids); err != nil {
		return nil, fmt.Errorf("rekor search %s: malformed answer: %w", hash, err)
	}
	if len(uuids) > maxSearchResults {
		uuids = uuids[:maxSearchResults]
	}
	for _, u := range uuids {
		if !uuidRE.MatchString(u) {
			return nil, fmt.Errorf("rekor search %s: malformed entry UUID %q", hash, u)
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
	var m map[string]models.LogEntryAnon
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("rekor entry %s: malformed answer: %w", uuid, err)
	}
	if len(m) != 1 {
		return nil, fmt.Errorf("rekor entry %s: want one entry, got %d", uuid, len(m))
	}
	for _, e := range m {
		if e.Body == nil || e.IntegratedTime == nil || e.LogIndex == nil || e.LogID == nil {
			return nil, fmt.Errorf("rekor entry %s: incomplete entry", uuid)
		}
		return &e, nil
	}
	return nil, errors.New("unreachable")
}

// FindEntries returns the log entries for digest whose hashedrekord body
// records exactly this signature and certificate (certDER). Entries of
// other signatures of the same digest are dropped.
func (c *RekorClient) FindEntries(ctx context.Context, digestHex string, sig, certDER []byte) ([]*models.LogEntryAnon, error) {
	uuids, err := c.SearchHash(ctx, "sha256:"+digestHex)
	if err != nil {
		return nil, err
	}
	var out []*models.LogEntryAnon
	for _, u := range uuids {
		e, err := c.Entry(ctx, u)
		if err != nil {
			return nil, err
		}
		if RecordsSignature(e, sig, certDER) {
			out = append(out, e)
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
