package authres_test

import (
	"fmt"
	"strings"

	"github.com/authmilter/authmilter/policy/authres"
)

func ExampleFormat() {
	v := authres.Format("mx.example.org", []authres.Result{
		{Method: "spf", Value: "pass", Props: []authres.Property{{Type: "smtp", Name: "mailfrom", Value: "sender@example.com"}}},
		{Method: "dkim", Value: "fail", Reason: "body hash mismatch", Props: []authres.Property{
			{Type: "header", Name: "d", Value: "example.com\r\nX-Injected: 1"},
			{Type: "header", Name: "b", Value: "Ab+/cD=="},
		}},
	})
	fmt.Println(strings.ReplaceAll("Authentication-Results:"+v, "\r\n", "\n"))
	// Output:
	// Authentication-Results: mx.example.org;
	// 	spf=pass smtp.mailfrom=sender@example.com;
	// 	dkim=fail reason="body hash mismatch" header.d="example.com X-Injected: 1"
	// 	header.b="Ab+/cD=="
}

func ExampleAuthservID() {
	ours, _ := authres.AuthservID(authres.Format("MX.Example.ORG", nil))
	for _, v := range []string{
		` (forged) "mx.example.org" 1; dkim=pass`,
		" mx.example.net; spf=pass",
	} {
		id, err := authres.AuthservID(v)
		fmt.Println(id, id == ours, err)
	}
	// Output:
	// mx.example.org true <nil>
	// mx.example.net false <nil>
}
