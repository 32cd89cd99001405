// The peer side of bench/engine.py: k8s.io/client-go's rate-limited workqueue driving no-op "reconciles"
// the way controller-runtime does (Get, Forget, Done), with N workers over K keys. Prints items per second.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func main() {
	keys, _ := strconv.Atoi(os.Args[1])
	workers, _ := strconv.Atoi(os.Args[2])
	q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[int]())
	for i := 0; i < keys; i++ {
		q.Add(i)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				item, shutdown := q.Get()
				if shutdown {
					return
				}
				q.Forget(item)
				q.Done(item)
				mu.Lock()
				done++
				if done == keys {
					q.ShutDown()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Println(float64(keys) / time.Since(start).Seconds())
}
