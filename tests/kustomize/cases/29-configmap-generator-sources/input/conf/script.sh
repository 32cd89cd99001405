#!/bin/sh
echo "hello"	# tab
