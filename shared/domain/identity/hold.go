package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/nova-social/nova/shared/id"
)

// HoldAccount reports whether uid is an account, and if it is keeps it one
// until tx ends: a deletion of the account (Deletion.Delete locks the row
// first) waits for tx, so what tx writes in uid's name is there for the
// deletion's erasers to find, and a deletion that committed first leaves
// nothing to hold. For the functions that share nova-api's database and
// write rows for a user they did not authenticate (content-sync).
func HoldAccount(ctx context.Context, tx pgx.Tx, uid id.UserID) (bool, error) {
	if !isUserID(uid) {
		return false, nil // not an id, so no account's
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`, string(uid)).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("identity: hold account %s: %w", uid, err)
	}
	return true, nil
}

func isUserID(uid id.UserID) bool {
	_, err := id.ParseUserID(string(uid))
	return err == nil
}
