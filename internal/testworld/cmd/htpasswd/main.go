// Command htpasswd prints an htpasswd line (bcrypt, lowest cost: for test
// registries only) for a user, as distribution's registry reads it for
// basic authentication:
//
//	go run ./internal/testworld/cmd/htpasswd USER PASSWORD >> htpasswd
//
// scripts/e2e.sh uses it for a registry that requires credentials.
package main

import (
	"fmt"
	"os"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: htpasswd USER PASSWORD")
		os.Exit(2)
	}
	// The lowest cost: the registry checks the password on every request
	// (basic authentication), and a test registry on 2 cores must answer
	// hundreds at once. Never for real passwords.
	hash, err := bcrypt.GenerateFromPassword([]byte(os.Args[2]), bcrypt.MinCost)
	if err != nil {
		fmt.Fprintln(os.Stderr, "htpasswd:", err)
		os.Exit(1)
	}
	fmt.Printf("%s:%s\n", os.Args[1], hash)
}
