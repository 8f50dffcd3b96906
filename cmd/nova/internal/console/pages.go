package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed assets/*.css assets/*.js
var assets embed.FS

//go:embed templates/*.html
var templates embed.FS

// pageNames are the pages, each a template of templates/ drawn inside
// layout.html.
var pageNames = []string{"index", "topic", "deadletters", "trace"}

func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"join": func(s []string) string { return strings.Join(s, ", ") },
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Local().Format("2006-01-02 15:04:05.000")
		},
		"topicPath": func(topic string) string { return "/topics/" + url.PathEscape(topic) },
	}
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templates, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// page is what every page's layout shows.
type page struct {
	Title string
	// Nav is the page's entry in the navigation.
	Nav   string
	Token string
	Body  any
}

// render writes a page whole, or a plain error if it cannot be made:
// half a page would look like a console that has lost events.
func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	p.Token = c.token
	var b bytes.Buffer
	if err := c.pages[name].Execute(&b, p); err != nil {
		c.log.Error("render page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// assetHandler serves the page's script and style, files only: no
// listing of the folder.
func assetHandler() http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}
