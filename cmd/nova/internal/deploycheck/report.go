package deploycheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"text/tabwriter"
	"time"
)

// writeReport prints one line per function: build time, binary size, how
// long it took to be ready and to stop, and the outcome.
func writeReport(w io.Writer, rep *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "FUNCTION\tBUILD\tSIZE\tWAITING AFTER\tREADY AFTER\tSTOPPED AFTER\t")
	for _, f := range rep.Functions {
		result := "ok"
		if f.Err != nil {
			result = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t  %s\n", f.Name, dur(f.Build), size(f.Size), dur(f.Waiting), dur(f.Ready), dur(f.Stop), result)
	}
	tw.Flush()
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func size(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

func execOutput(ctx context.Context, dir, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.String(), err
}
