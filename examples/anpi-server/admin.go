package main

import "net/http"

// mountAdmin mounts the administrators' handler under /admin/.
//
// The admin handler of anpi/web (web.NewAdminHandler) is not in the
// repository yet: until it is, /admin/ answers 503 saying so, and the
// accounts are kept ready for it (<data>/accounts.json).
func (s *server) mountAdmin(mux *http.ServeMux) {
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the administration pages are not part of this build yet (anpi/web admin handler)", http.StatusServiceUnavailable)
	})
}
