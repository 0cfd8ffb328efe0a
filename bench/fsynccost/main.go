// Command fsynccost measures what one durable write costs on this machine: a small write into a file whose
// blocks exist, then fdatasync, as the cheapest ledger commit would do. It prints the median and 90th
// percentile of the wall time and the process's CPU time (user and system) per write. On a machine where
// the CPU time is a large part of the wall time, the fsyncs of the ledger compete with composing and
// sending for the CPU (bench/ledger.sh).
//
//	go run ./bench/fsynccost [-n WRITES] [-dir DIR]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 4000, "how many writes")
	dir := flag.String("dir", os.TempDir(), "the folder to write in (the disk of the store)")
	flag.Parse()
	f, err := os.CreateTemp(*dir, "fsynccost")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	line := []byte("sending 123456 <post.abcdef0123456789@blog.example.com>\n")
	if _, err := f.Write(make([]byte, *n*len(line))); err != nil {
		log.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		log.Fatal(err)
	}
	walls := make([]time.Duration, *n)
	cpu0 := cpuTime()
	for i := range walls {
		t := time.Now()
		if _, err := f.WriteAt(line, int64(i*len(line))); err != nil {
			log.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			log.Fatal(err)
		}
		walls[i] = time.Since(t)
	}
	cpu := (cpuTime() - cpu0) / time.Duration(*n)
	slices.Sort(walls)
	fmt.Printf("%d writes and fdatasyncs in %s: wall p50 %s, p90 %s; CPU %s a write\n", *n, filepath.Dir(f.Name()),
		walls[*n/2].Round(time.Microsecond), walls[*n*9/10].Round(time.Microsecond), cpu.Round(time.Microsecond))
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
