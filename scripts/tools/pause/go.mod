module modelgate/scripts/tools/pause

go 1.22
