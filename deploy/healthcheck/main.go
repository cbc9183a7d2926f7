// Command healthcheck is the Docker health check of the sockgate image.
// The image is distroless (no shell, no curl), so the check is a program
// of its own: GET http://127.0.0.1:3000/readyz (or the URL given as its
// argument) with a 3 s deadline; exit 0 on 200, else 1.
//
//	HEALTHCHECK CMD ["/usr/local/bin/healthcheck"]
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	url := "http://127.0.0.1:3000/readyz"
	if len(os.Args) > 1 {
		url = os.Args[1]
	}
	if err := check(url); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func check(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, res.Status, body)
	}
	return nil
}
