package main

import (
	"context"
	"net/http"
	"strings"

	"github.com/anpikit/anpi/anpi"
	"github.com/anpikit/anpi/anpi/web"
)

// mountAdmin mounts the administrators' pages and JSON API (anpi/web) under
// /admin/. Cookies drop their Secure flag only in development mode on a
// plain http:// base URL, where a browser would not send them back
// otherwise; they are scoped to /admin/.
func (s *server) mountAdmin(mux *http.ServeMux) {
	insecure := s.cfg.Dev && strings.HasPrefix(s.baseURL, "http://")
	h := web.NewAdminHandler(&adminService{Service: s.svc, c: s.counters}, s.accounts, &web.AdminOptions{
		Logger:          s.log,
		CSRFKey:         s.adminCSRF,
		InsecureCookies: insecure,
		CookiePath:      "/admin/",
		OIDC:            s.adminOIDC(),
	})
	mux.Handle("/admin/", http.StripPrefix("/admin", h))
	mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
}

// adminService is the Service as the admin handler sees it, with the JMA
// documents posted to the API (POST /admin/api/documents) and the feed
// page counted for /metrics.
type adminService struct {
	*anpi.Service
	c *counters
}

// HandleDocument counts the document, then hands it to the Service.
func (a *adminService) HandleDocument(ctx context.Context, data []byte) (*anpi.Outcome, error) {
	return countDocument(a.c, func() (*anpi.Outcome, error) { return a.Service.HandleDocument(ctx, data) })
}

// countDocument counts one document handled by do, and its failure.
func countDocument(c *counters, do func() (*anpi.Outcome, error)) (*anpi.Outcome, error) {
	c.documents.Add(1)
	out, err := do()
	if err != nil {
		c.docErrors.Add(1)
	}
	return out, err
}
