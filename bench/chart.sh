#!/bin/bash
# Draws a benchmark's figures as a PNG with gnuplot (Debian package gnuplot-nox), so a run can be
# looked at as well as read. The benchmarks call it next to printing their table; it never fails
# them: without gnuplot it says so and exits 0 without a file.
#
# Usage: bench/chart.sh KIND OUT.png TITLE XLABEL YLABEL < DATA
#   DATA is tab-separated, one point per line, in the order to draw:
#   lines  SERIES <tab> X <tab> Y   one line with points per series (X numeric), e.g. DHCP loss
#                                   against offered rate per server
#   steps  SERIES <tab> X <tab> Y   the same as steps, e.g. machines booted against seconds
#   bars   GROUP <tab> SERIES <tab> Y   clustered bars: one cluster per group, one colour per series
#                                   (a missing or non-numeric Y is drawn as no bar)
# The title gets the machine and the day appended ("(CPU model, N cores, YYYY-MM-DD)"), so a chart
# read on its own says where its figures come from. Prints "chart: OUT.png" when the file was
# written. CHART_SIZE (default 900,480) in pixels.
set -u
if [ $# -ne 5 ]; then
    echo "usage: bench/chart.sh lines|steps|bars OUT.png TITLE XLABEL YLABEL < tab-separated data" >&2
    exit 2
fi
kind=$1 out=$2 xlabel=$4 ylabel=$5
title="$3 ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores, $(date -u +%Y-%m-%d))"
case $kind in lines | steps | bars) ;; *) echo "chart: unknown kind '$kind'" >&2; exit 2 ;; esac
if ! command -v gnuplot >/dev/null; then
    echo "chart: gnuplot is not installed (apt-get install gnuplot-nox); no $out"
    exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/pxed-chart.XXXXXX") || exit 0
trap 'rm -rf "$work"' EXIT
cat > "$work/raw"
[ -s "$work/raw" ] || { echo "chart: no data for $out"; exit 0; }

# gnuplot strings are single-quoted: double any quote in a label.
q() { printf "'%s'" "${1//\'/\'\'}"; }
# pngcairo draws antialiased text; plain png (libgd) is the fallback on builds without cairo.
terminal="pngcairo size ${CHART_SIZE:-900,480} font 'sans,10'"
gnuplot -e 'set terminal pngcairo' 2>/dev/null || terminal="png size ${CHART_SIZE:-900,480}"

{
    echo "set terminal $terminal"
    echo "set output $(q "$out")"
    echo "set title $(q "$title")"
    echo "set xlabel $(q "$xlabel")"
    echo "set ylabel $(q "$ylabel")"
    echo "set datafile separator '\t'"
    echo "set grid ytics lc rgb '#dddddd'"
    echo "set key outside right top"
    echo "set yrange [0:*]"
} > "$work/plot.gp"

if [ "$kind" = bars ]; then
    # A matrix: a header row of series, then one row per group (in first-seen order).
    awk -F'\t' '
        !($1 in gi) { gi[$1] = ++ng; g[ng] = $1 }
        !($2 in si) { si[$2] = ++ns; s[ns] = $2 }
        { v[gi[$1], si[$2]] = ($3 ~ /^[0-9.eE+-]+$/) ? $3 : "" }
        END {
            printf "group"; for (j = 1; j <= ns; j++) printf "\t%s", s[j]; print ""
            for (i = 1; i <= ng; i++) {
                printf "%s", g[i]
                for (j = 1; j <= ns; j++) printf "\t%s", ((i, j) in v && v[i, j] != "") ? v[i, j] : "NaN"
                print ""
            }
        }' "$work/raw" > "$work/data"
    n=$(head -1 "$work/data" | awk -F'\t' '{print NF}')
    {
        echo "set style data histograms"
        echo "set style histogram clustered gap 1"
        echo "set style fill solid 0.85 border -1"
        echo "set boxwidth 0.9"
        echo "set xtics rotate by -20 scale 0"
        echo "plot for [i=2:$n] $(q "$work/data") using i:xtic(1) title columnheader(i)"
    } >> "$work/plot.gp"
else
    # One data block per series (two blank lines apart), its name on the block's first line.
    awk -F'\t' '
        !($1 in si) { si[$1] = ++ns; s[ns] = $1 }
        { pts[si[$1]] = pts[si[$1]] $2 "\t" $3 "\n" }
        END { for (j = 1; j <= ns; j++) { if (j > 1) printf "\n\n"; printf "%s\t%s\n%s", s[j], s[j], pts[j] } }' \
        "$work/raw" > "$work/data"
    n=$(awk -F'\t' '!($1 in s) { s[$1]; n++ } END { print n }' "$work/raw")
    style="linespoints pointtype 7 pointsize 0.8 linewidth 2"
    [ "$kind" = steps ] && style="steps linewidth 2"
    echo "plot for [i=0:$((n - 1))] $(q "$work/data") index i using 1:2 with $style title columnheader(1)" >> "$work/plot.gp"
fi

if gnuplot "$work/plot.gp" > "$work/gnuplot.err" 2>&1 && [ -s "$out" ]; then
    echo "chart: $out"
else
    echo "chart: gnuplot could not draw $out: $(tail -2 "$work/gnuplot.err" | tr '\n' ' ')"
    rm -f "$out"
fi
exit 0
