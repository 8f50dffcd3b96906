// Package screen is the trust-safety function's logic: it judges every new
// and edited post against the rules and records the verdict, with its
// ModerationDecision, through shared/domain/moderation.
//
// Rules and what they decide:
//
//	blocked_term      a blocked term (whole words, any case)        HIDE
//	blocked_pattern   a blocked regular expression matches          HIDE
//	blocked_domain    a link to a blocked domain or its subdomains  HIDE
//	repeated_content  the author posted the same text (normalised:
//	                  case, punctuation and spacing ignored) in
//	                  RepeatThreshold posts within RepeatWindow       HIDE
//	link_spam         more than MaxLinks links                       FLAG
//
// HIDE takes the post out of every feed and search at once (the author
// still sees it, with the reasons) and queues it for review, where a
// reviewer may restore or remove it; FLAG only queues it. A post breaking
// no rule is ALLOWed, which also restores a post the rules hid in an
// earlier version. Tags are judged with the text.
package screen

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"

	eventsv1 "github.com/nova-social/nova/schemas/nova/events/v1"
	"github.com/nova-social/nova/shared/domain/moderation"
)

// Config holds the rules.
type Config struct {
	// BlockedTerms are words or phrases matched as whole words, ignoring
	// case and the amount of space between words.
	BlockedTerms []string
	// Patterns are RE2 regular expressions (add (?i) for any case).
	Patterns []string
	// MaxLinks is the most links a post may carry before it is flagged.
	MaxLinks int
	// BlockedDomains are hosts whose links hide a post, with their
	// subdomains.
	BlockedDomains []string
	// RepeatThreshold posts of the same text by one author within
	// RepeatWindow hide the last; texts shorter than RepeatMinChars
	// (after normalising) are not counted, so "gm" every morning is fine.
	RepeatThreshold int
	RepeatWindow    time.Duration
	RepeatMinChars  int
}

// DefaultConfig returns rules that catch common spam and nothing else.
func DefaultConfig() Config {
	return Config{
		BlockedTerms:    []string{"buy followers", "free followers", "crypto giveaway", "double your bitcoin"},
		MaxLinks:        3,
		RepeatThreshold: 3,
		RepeatWindow:    time.Hour,
		RepeatMinChars:  16,
	}
}

// Validate reports rules that cannot work.
func (c Config) Validate() error {
	var errs []error
	for _, p := range c.Patterns {
		if _, err := regexp.Compile(p); err != nil {
			errs = append(errs, fmt.Errorf("pattern %q: %w", p, err))
		}
	}
	for _, t := range c.BlockedTerms {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, errors.New("a blocked term is empty"))
		}
	}
	if c.MaxLinks < 0 {
		errs = append(errs, fmt.Errorf("max links %d must not be negative", c.MaxLinks))
	}
	if c.RepeatThreshold < 2 || c.RepeatWindow <= 0 || c.RepeatMinChars < 0 {
		errs = append(errs, fmt.Errorf("repeat threshold %d must be at least 2 and window %v positive", c.RepeatThreshold, c.RepeatWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("moderation rules: %w", err)
	}
	return nil
}

// Policy is a compiled Config.
type Policy struct {
	cfg      Config
	terms    *regexp.Regexp // nil without terms
	patterns []*regexp.Regexp
	domains  []string
}

var linkRE = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"']+`)

// NewPolicy compiles cfg.
func NewPolicy(cfg Config) (*Policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Policy{cfg: cfg}
	if len(cfg.BlockedTerms) > 0 {
		alts := make([]string, 0, len(cfg.BlockedTerms))
		for _, t := range cfg.BlockedTerms {
			words := strings.Fields(t)
			for i, w := range words {
				words[i] = regexp.QuoteMeta(w)
			}
			alts = append(alts, strings.Join(words, `\s+`))
		}
		// Word boundaries by hand: \b is ASCII-only in RE2.
		p.terms = regexp.MustCompile(`(?i)(?:^|[^\pL\pN_])(` + strings.Join(alts, "|") + `)(?:$|[^\pL\pN_])`)
	}
	for _, s := range cfg.Patterns {
		p.patterns = append(p.patterns, regexp.MustCompile(s))
	}
	for _, d := range cfg.BlockedDomains {
		if d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), "."); d != "" {
			p.domains = append(p.domains, d)
		}
	}
	return p, nil
}

// Config returns the rules.
func (p *Policy) Config() Config { return p.cfg }

// Check returns the rules text (with tags) breaks, except repetition, which
// needs the author's history (Repeats).
func (p *Policy) Check(text string, tags []string) []moderation.Reason {
	all := text
	if len(tags) > 0 {
		all += "\n" + strings.Join(tags, " ")
	}
	var out []moderation.Reason
	if p.terms != nil {
		seen := map[string]bool{}
		for _, m := range p.terms.FindAllStringSubmatch(all, -1) {
			t := strings.Join(strings.Fields(strings.ToLower(m[1])), " ")
			if !seen[t] {
				seen[t] = true
				out = append(out, moderation.Reason{Code: "blocked_term", Detail: t})
			}
		}
	}
	for _, re := range p.patterns {
		if re.MatchString(all) {
			out = append(out, moderation.Reason{Code: "blocked_pattern", Detail: re.String()})
		}
	}
	links := linkRE.FindAllString(all, -1)
	blocked := map[string]bool{}
	for _, l := range links {
		if h := host(l); h != "" {
			for _, d := range p.domains {
				if (h == d || strings.HasSuffix(h, "."+d)) && !blocked[d] {
					blocked[d] = true
					out = append(out, moderation.Reason{Code: "blocked_domain", Detail: d})
				}
			}
		}
	}
	if len(links) > p.cfg.MaxLinks {
		out = append(out, moderation.Reason{Code: "link_spam", Detail: fmt.Sprintf("%d links (at most %d)", len(links), p.cfg.MaxLinks)})
	}
	return out
}

// Action is what the reasons add up to: HIDE if any rule that hides was
// broken, FLAG if only flagging ones were, ALLOW if none.
func Action(reasons []moderation.Reason) eventsv1.ModerationAction {
	act := eventsv1.ModerationAction_MODERATION_ACTION_ALLOW
	for _, r := range reasons {
		if r.Code == "link_spam" {
			act = eventsv1.ModerationAction_MODERATION_ACTION_FLAG
			continue
		}
		return eventsv1.ModerationAction_MODERATION_ACTION_HIDE
	}
	return act
}

func host(link string) string {
	if !strings.Contains(link, "://") {
		link = "http://" + link
	}
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return strings.Trim(strings.ToLower(u.Hostname()), ".")
}

// Normalise is the text repetition compares: letters and digits only,
// lower-cased, words separated by one space.
func Normalise(text string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}
