// Package sigverify verifies one Sigstore signature: a bundle (a message
// signature or a DSSE envelope, a cosign image signature) against the
// trusted material and a policy naming the signer and the signed digest.
//
// Every check is sigstore-go's own function, run once and recorded as it
// runs: the chain to a trusted Fulcio CA, the SCT, the exact identity, the
// signature, RFC 3161 timestamps, the transparency-log entries and the
// certificate's validity at each signed time. It is pure: it fetches
// nothing and reads no clock. Deciding on an artifact from all its
// evidence is pkg/verify's judge, which calls this package.
package sigverify
