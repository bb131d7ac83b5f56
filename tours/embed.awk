# embed.awk: turn tours/NAME[.LANG].tour files into C string literals
# (the tours built into conctui). Usage: awk -f embed.awk FILE...
BEGIN {
    print "/* Generated from the .tour files by tours/embed.awk; edit those. */"
    print "#include \"config.h\""
    print ""
    print "#include <stddef.h>"
    print ""
    print "#include \"tour.h\""
    print ""
    print "const struct tour__text tour__builtin[] = {"
    n = 0
}
FNR == 1 {
    if (n++)
        print "    },"
    f = FILENAME
    sub(/.*\//, "", f)
    sub(/\.tour$/, "", f)
    lang = ""
    if (f ~ /\./) {
        lang = f
        sub(/^[^.]*\./, "", lang)
    }
    printf "    {\"%s\",\n", lang
}
{
    gsub(/\\/, "\\\\")
    gsub(/"/, "\\\"")
    printf "     \"%s\\n\"\n", $0
}
END {
    if (n)
        print "    },"
    print "    {NULL, NULL},"
    print "};"
}
