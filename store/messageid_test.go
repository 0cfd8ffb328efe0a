package store

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestMessageIDLookupPlan: the look-up through the recipient reads the subscribers of the address and
// their deliveries by their indexes, never the whole of deliveries; only the fallback scans it.
func TestMessageIDLookupPlan(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "herald.db"))
	ls := messageIDLookups("lower", "<a@blog.example.com>", "Ann@Example.com")
	if len(ls) != 2 {
		t.Fatalf("got %d look-ups, want the recipient's and the scan", len(ls))
	}
	plan := func(l messageIDLookup) string {
		t.Helper()
		q, args := bind(l.query, l.args)
		rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var detail string
			if err := rows.Scan(new(int), new(int), new(int), &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	got := plan(ls[0])
	for _, index := range []string{"subscribers_email_fold", "deliveries_subscriber"} {
		if !strings.Contains(got, "INDEX "+index+" ") {
			t.Errorf("the look-up through the recipient does not use %s:\n%s", index, got)
		}
	}
	if strings.Contains(got, "SCAN") {
		t.Errorf("the look-up through the recipient scans a table:\n%s", got)
	}
	if got := plan(ls[1]); !strings.Contains(got, "SCAN deliveries") {
		t.Errorf("the fallback does not scan deliveries (an index by Message-ID is back?):\n%s", got)
	}
}

// TestContractMessageIDByRecipient: the look-up through the recipient alone finds the delivery among the
// deliveries of the address's subscribers, in any case of it, and nothing through another address (the
// fallback would find it: see TestContractFindDelivery).
func TestContractMessageIDByRecipient(t *testing.T) {
	contract(t, func(t *testing.T, c *cstore) {
		sent, _, bea := messageIDSite(t, c)
		for _, tc := range []struct {
			name                 string
			messageID, recipient string
			want                 int64
		}{
			{"the recipient", "<p1.ann@blog.example.com>", "ann@example.com", sent.ID},
			{"without brackets, in another case", "p1.ann@blog.example.com", "ANN@example.COM", sent.ID},
			{"another subscriber", "<p1.ann@blog.example.com>", bea.Email, 0},
			{"no subscriber", "<p1.ann@blog.example.com>", "ann@forward.example.net", 0},
			{"an unknown Message-ID", "<p2.ann@blog.example.com>", "ann@example.com", 0},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := byRecipient(t, c.Store, tc.messageID, tc.recipient); got != tc.want {
					t.Errorf("got delivery %d, want %d", got, tc.want)
				}
			})
		}
	})
}

// byRecipient runs the first of messageIDLookups, the look-up through the recipient, on s: the id of the
// delivery it finds, 0 for none.
func byRecipient(t *testing.T, s Store, messageID, recipient string) int64 {
	t.Helper()
	var id, sub int64
	var err error
	switch s := s.(type) {
	case *sqliteStore:
		l := messageIDLookups("lower", messageID, recipient)[0]
		q, args := bind(l.query, l.args)
		err = s.db.QueryRowContext(t.Context(), q, args...).Scan(&id, &sub)
	case *pgStore:
		l := messageIDLookups("herald_ascii_lower", messageID, recipient)[0]
		q, args := pgBind(l.query, l.args)
		err = s.pool.QueryRow(t.Context(), q, args...).Scan(&id, &sub)
	default:
		t.Fatalf("a store of type %T", s)
	}
	if errors.Is(err, sql.ErrNoRows) || errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return id
}
