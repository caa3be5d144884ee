#!/usr/bin/env bash
# placeholder: filled by its owner
echo "1..0 # SKIP not written yet"
