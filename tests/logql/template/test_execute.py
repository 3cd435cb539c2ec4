"""The Go text/template engine behind line_format / label_format: output, errors, Loki functions."""

from __future__ import annotations

import pytest

from logyard.errors import BadRequestError
from logyard.logql.template.execute import TemplateError, parse_template

LABELS = {"app": "web", "status": "200", "path": "/api/v1", "n": "42", "f": "1.5", "empty": "",
          "msg": "Hello World", "json": '{"a":{"b":[1,2]},"s":"x"}', "b64": "aGVsbG8="}
TS = 1767225750123456789  # 2026-01-01T00:02:30.123456789Z
LINE = "GET /api/v1 200 12ms"


def render(text: str, labels: dict | None = None) -> str:
    return parse_template(text).render(LABELS if labels is None else labels, LINE, TS)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain", "plain"),
        ("{{.app}}", "web"),
        ("{{ .missing }}|", "|"),  # missingkey=zero on map[string]string: ""
        ("a  {{- .app -}}  b", "awebb"),
        ("{{/* comment */}}x", "x"),
        ("{{ $ := . }}{{ $.app }}", "web"),
        ("{{ $x := .app }}{{ $x = upper $x }}{{ $x }}", "WEB"),
        ("{{ .app | printf \"%s-%s\" .status }}", "200-web"),
        ("{{ if eq .status \"200\" }}ok{{ else if eq .status \"500\" }}err{{ else }}?{{ end }}", "ok"),
        ("{{ if .empty }}y{{ else }}n{{ end }}", "n"),
        ("{{ with .app }}[{{ . }}]{{ end }}{{ with .empty }}no{{ else }}e{{ end }}", "[web]e"),
        ("{{ range $i, $c := fromJson .json | len }}{{ end }}", ""),
        ("{{ range $k, $v := fromJson .json }}{{ $k }};{{ end }}", "a;s;"),
        ("{{ range 3 }}{{ . }}{{ end }}", "012"),
        ("{{ range $i := 5 }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $i }}{{ end }}", "012"),
        ("{{ and .app .empty }}|{{ or .empty .app }}|{{ not .app }}", "|web|false"),
        ("{{ len .app }} {{ index (fromJson .json) \"s\" }}", "3 x"),
        ("{{ ne .n \"42\" }} {{ lt .app \"zzz\" }} {{ ge 3 3 }} {{ gt 2.5 1.0 }}", "false true true true"),
        ("{{ print 1 2 \"a\" 3 }}|{{ println .app 1 }}", "1 2a3|web 1\n"),
        ("{{ printf \"%5s|%-5s|%d|%v|%q|%.2f|%x|%05d|%t\" .app .app 7 1.5 .app 3.14159 255 42 true }}",
         "  web|web  |7|1.5|\"web\"|3.14|ff|00042|true"),
        ("{{ printf \"%d\" .app }}{{ printf \"%s\" }}", "%!d(string=web)%!s(MISSING)"),
        ("{{ __line__ }}", LINE),
        ("{{ __timestamp__ }}", "2026-01-01 00:02:30.123456789 +0000 UTC"),
        ("{{ __timestamp__ | date \"2006-01-02T15:04:05.000Z07:00\" }}", "2026-01-01T00:02:30.123Z"),
        ("{{ __timestamp__ | date \"Jan _2 Mon 3:04:05PM\" }}", "Jan  1 Thu 12:02:30AM"),
        ("{{ __timestamp__ | unixEpoch }} {{ __timestamp__ | unixEpochMillis }}", "1767225750 1767225750123"),
        ("{{ unixEpochNanos __timestamp__ }}", "1767225750123456789"),
        ("{{ (toDate \"2006-01-02\" \"2026-03-04\").Unix }}", "1772582400"),
        ("{{ toDateInZone \"2006-01-02 15:04\" \"UTC\" \"2026-03-04 05:06\" | unixEpoch }}", "1772600760"),
        ("{{ unixToTime \"1767225600\" }}", "2026-01-01 00:00:00 +0000 UTC"),
        ("{{ toDateInZone \"2006-01-02 15:04\" \"Europe/Paris\" \"2026-07-04 05:06\" }}",
         "2026-07-04 05:06:00 +0200 CEST"),
        ("{{ toDate \"2006-01-02\" \"bad\" }}", "0001-01-01 00:00:00 +0000 UTC"),
        ("{{ ToLower .msg }} {{ ToUpper .msg }} {{ lower .msg }} {{ upper .app }} {{ title \"ab cd\" }}",
         "hello world HELLO WORLD hello world WEB Ab Cd"),
        ("{{ Replace .msg \"l\" \"L\" 2 }} {{ replace \"o\" \"0\" .msg }}", "HeLLo World Hell0 W0rld"),
        ("{{ Trim \"xxhixx\" \"x\" }} {{ TrimLeft \"xxhi\" \"x\" }} {{ TrimRight \"hixx\" \"x\" }}", "hi hi hi"),
        ("{{ TrimPrefix .path \"/api\" }} {{ TrimSuffix .path \"/v1\" }} [{{ TrimSpace \"  a \" }}]",
         "/v1 /api [a]"),
        ("{{ trim \" a \" }}{{ trimAll \"/\" .path }} {{ trimPrefix \"/api\" .path }} {{ trimSuffix \"/v1\" .path }}",
         "aapi/v1 /v1 /api"),
        ("{{ trunc 3 .msg }} {{ trunc -3 .msg }} {{ substr 1 4 .msg }}", "Hel rld ell"),
        ("{{ contains \"World\" .msg }} {{ hasPrefix \"Hell\" .msg }} {{ hasSuffix \"x\" .msg }}", "true true false"),
        ("{{ indent 2 \"a\\nb\" }}|{{ nindent 1 \"a\" }}", "  a\n  b|\n a"),
        ("{{ repeat 3 \"ab\" }} {{ default \"d\" .empty }} {{ default \"d\" .app }} {{ default \"d\" .nope }}",
         "ababab d web d"),
        ("{{ regexReplaceAll \"(\\\\d+)\" .msg \"<$1>\" }}{{ regexReplaceAll \"[0-9]+\" __line__ \"N\" }}",
         "Hello WorldGET /api/vN N Nms"),
        ("{{ regexReplaceAll \"(?P<w>o)\" .msg \"${w}0\" }} {{ regexReplaceAllLiteral \"o\" .msg \"$1\" }}",
         "Hello0 Wo0rld Hell$1 W$1rld"),
        ("{{ count \"l\" .msg }} {{ urlencode \"a b&c\" }} {{ urldecode \"a+b%26c\" }}", "3 a+b%26c a b&c"),
        ("{{ b64enc \"hello\" }} {{ b64dec .b64 }} {{ b64dec \"aGVsbG8\" }}", "aGVsbG8= hello hello"),
        ("{{ alignLeft 5 .app }}|{{ alignRight 5 .app }}|{{ alignLeft 2 .app }}|{{ alignRight 2 .app }}",
         "web  |  web|we|eb"),
        ("{{ add 1 2 3 }} {{ sub 5 7 }} {{ mul 2 3 4 }} {{ div 7 2 }} {{ div -7 2 }} {{ mod 7 3 }}", "6 -2 24 3 -3 1"),
        ("{{ add .n 1 }} {{ add \"3.9\" 1 }} {{ add 3.9 1 }} {{ int \"010\" }} {{ int .f }}", "43 1 4 8 0"),
        ("{{ addf 0.1 0.2 }} {{ subf 1.5 0.25 }} {{ mulf 1.1 3 }} {{ divf 1 3 }}", "0.3 1.25 3.3 0.3333333333333333"),
        ("{{ max 1 5 3 }} {{ min 4 2 }} {{ maxf 1.5 2 }} {{ minf 1.5 2 }}", "5 2 2 1.5"),
        ("{{ ceil 1.2 }} {{ floor 1.8 }} {{ round 1.2345 2 }} {{ round 1.5 0 }} {{ float64 .f }}", "2 1 1.23 2 1.5"),
        ("{{ bytes \"1.5KiB\" }} {{ duration \"1m30s\" }} {{ duration_seconds \"250ms\" }}", "1536 90 0.25"),
        ("{{ (fromJson .json).a.b }} {{ index (fromJson .json) \"a\" \"b\" 1 }}", "[1 2] 2"),
        ("{{ 3.0 }} {{ 1e3 }} {{ 1e21 }} {{ 0.00001 }} {{ 'a' }} {{ 1e6 }} {{ 123456.5 }}", "3 1000 1e+21 1e-05 97 1e+06 123456.5"),
        ("{{ html \"<a&b>\" }} {{ urlquery \"a b\" }}", "&lt;a&amp;b&gt; a+b"),
        ("{{ printf \"%v|%s\" nil nil }}", "<nil>|%!s(<nil>)"),
        ("{{ title \"it's a-b c_d\" }}", "It'S A-B C_d"),  # strings.Title's separators
        ("{{ printf \"%05s|%05d|%-05d|%08.3d|%05.1f|%5t\" \"ab\" -42 7 5 -2.25 true }}",
         "000ab|-0042|7    |     005|-02.2| true"),
        ("{{ printf \"%-8q|%+d|%x|%X|% d\" \"a\" 5 \"hi\" 255 3 }}", '"a"     |+5|6869|FF| 3'),
        ("{{ printf \"%6.2f|%e|%g|%G\" 3.14159 123456.0 0.000012 1e21 }}", "  3.14|1.234560e+05|1.2e-05|1E+21"),
        ("{{ 1 | printf \"%d %d\" 2 }} {{ (printf \"%s-%s\" .app .n) | upper }}", "2 1 WEB-42"),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"),
        ("{{ $.app }}{{ range fromJson \"[1]\" }}{{ $.n }}{{ . }}{{ end }}", "web421"),
    ],
)
def test_render(text, expected):
    assert render(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{.foo", "template: line:1: unclosed action"),
        ("{{ foo }}", 'template: line:1: function "foo" not defined'),
        ("{{ if .x }}", "template: line:1: unexpected EOF"),
        ("{{ end }}", "template: line:1: unexpected {{end}}"),
        ("{{ else }}", "template: line:1: unexpected {{else}}"),
        ('{{ "abc }}', "template: line:1: unterminated quoted string"),
        ("{{ (.x }}", "template: line:1: unclosed left paren"),
        ("{{ .x) }}", "template: line:1: unexpected right paren"),
        ("{{ }}", "template: line:1: missing value for command"),
        ("{{ $x }}", 'template: line:1: undefined variable "$x"'),
        ("{{ .a | 3 }}", "template: line:1: non executable command in pipeline stage 2"),
        ("a\n{{ foo }}", 'template: line:2: function "foo" not defined'),
        ("{{ break }}", "template: line:1: {{break}} outside {{range}}"),
        ("{{/* x", "template: line:1: unclosed comment"),
        ("{{ 1x }}", 'template: line:1: bad number syntax: "1x"'),
    ],
)
def test_parse_errors_are_worded_as_go(text, message):
    with pytest.raises(BadRequestError) as exc:
        parse_template(text)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "text, message",
    [
        ("{{ div 1 0 }}", 'template: line:1:3: executing "line" at <div 1 0>: error calling div: '
                          "runtime error: integer divide by zero"),
        ("{{ .app.x }}", 'template: line:1:3: executing "line" at <.app.x>: can\'t evaluate field x in type string'),
        ("{{ trunc .app .app }}", 'template: line:1:3: executing "line" at <trunc .app .app>: '
                                  "wrong type for value; expected int; got string"),
        ("{{ nil }}", 'template: line:1:3: executing "line" at <nil>: nil is not a command'),
        ("{{ upper }}", 'template: line:1:3: executing "line" at <upper>: wrong number of args for upper: want 1 got 0'),
        ("{{ eq .app 1 }}", 'template: line:1:3: executing "line" at <eq .app 1>: error calling eq: '
                            "incompatible types for comparison"),
        ("{{ regexReplaceAll \"(\" .app \"\" }}",
         'template: line:1:3: executing "line" at <regexReplaceAll "(" ...>: error calling regexReplaceAll: '
         "error parsing regexp: missing closing ): `(`"),
        ("{{ urldecode \"%zz\" }}", 'template: line:1:3: executing "line" at <urldecode "%zz">: '
                                    'error calling urldecode: invalid URL escape "%zz"'),
    ],
)
def test_execution_errors_are_worded_as_go(text, message):
    with pytest.raises(TemplateError) as exc:
        render(text)
    assert str(exc.value) == message


def test_label_templates_are_named_label_in_errors():
    with pytest.raises(BadRequestError) as exc:
        parse_template("{{ nope }}", "label")
    assert str(exc.value) == 'template: label:1: function "nope" not defined'


@pytest.mark.parametrize(
    "text, field",
    [("{{.a}}", "a"), ("{{ .a }}", "a"), ("x{{.a}}", None), ("{{.a.b}}", None), ("{{ .a | upper }}", None)],
)
def test_simple_field_shortcut_detection(text, field):
    assert parse_template(text).simple_field == field


def test_fields_lists_label_names_read():
    assert parse_template("{{ if .a }}{{ .b | upper }}{{ else }}{{ .c }}{{ end }}").fields() == ["a", "b", "c"]
