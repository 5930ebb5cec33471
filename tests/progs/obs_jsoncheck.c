/*
 * obs_jsoncheck - validate a trace file: strict JSON (RFC 8259), a top-level
 * object with a "traceEvents" array of objects, and a summary of what is in
 * it, for tests/obs_trace.sh (no python needed).
 *
 *   obs_jsoncheck FILE
 *
 * Prints, one per line:
 *   events N
 *   ph P N               events per phase ("X", "s", "t", "f", "M", ...)
 *   span NAME N          "X" events per name
 *   flows N complete C   flow ids, and those with both a start and an end
 *   process NAME         each process_name ("rank 0", ...), with a distinct pid
 *   bad-span N           "X" events without a numeric ts and a dur >= 0
 * Exit 0 when the file is valid JSON of that shape, 1 (saying where) if not.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *src, *pos, *end;

static void die(const char *what)
{
	long line = 1;

	for (const char *p = src; p < pos; p++)
		line += *p == '\n';
	fprintf(stderr, "obs_jsoncheck: line %ld, byte %ld: %s\n", line, (long)(pos - src), what);
	exit(1);
}

static void ws(void)
{
	while (pos < end && (*pos == ' ' || *pos == '\t' || *pos == '\n' || *pos == '\r'))
		pos++;
}

static void expect(char c)
{
	ws();
	if (pos >= end || *pos != c) {
		char m[40];
		snprintf(m, sizeof(m), "expected '%c'", c);
		die(m);
	}
	pos++;
}

/* A string; its contents (escapes kept) into out when out is not NULL. */
static void string(char *out, size_t cap)
{
	size_t o = 0;

	expect('"');
	while (pos < end && *pos != '"') {
		unsigned char c = (unsigned char)*pos;
		if (c < 0x20)
			die("control character in a string");
		if (c == '\\') {
			pos++;
			if (pos >= end || !strchr("\"\\/bfnrtu", *pos))
				die("bad escape");
			if (*pos == 'u') {
				for (int i = 1; i <= 4; i++)
					if (pos + i >= end || !isxdigit((unsigned char)pos[i]))
						die("bad \\u escape");
				pos += 4;
			}
		}
		if (out && o + 1 < cap)
			out[o++] = (char)*pos;
		pos++;
	}
	if (pos >= end)
		die("unterminated string");
	pos++;
	if (out)
		out[o] = '\0';
}

static double number(void)
{
	const char *s = pos;
	char *e;
	double v;

	if (pos < end && *pos == '-')
		pos++;
	if (pos >= end || !isdigit((unsigned char)*pos))
		die("bad number");
	if (*pos == '0' && pos + 1 < end && isdigit((unsigned char)pos[1]))
		die("leading zero");
	while (pos < end && isdigit((unsigned char)*pos))
		pos++;
	if (pos < end && *pos == '.') {
		pos++;
		if (pos >= end || !isdigit((unsigned char)*pos))
			die("bad fraction");
		while (pos < end && isdigit((unsigned char)*pos))
			pos++;
	}
	if (pos < end && (*pos == 'e' || *pos == 'E')) {
		pos++;
		if (pos < end && (*pos == '+' || *pos == '-'))
			pos++;
		if (pos >= end || !isdigit((unsigned char)*pos))
			die("bad exponent");
		while (pos < end && isdigit((unsigned char)*pos))
			pos++;
	}
	v = strtod(s, &e);
	return v;
}

static void value(void);

static void literal(const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(end - pos) < n || memcmp(pos, w, n))
		die("bad literal");
	pos += n;
}

/*
 * The opening bracket of an object or array: 0 when the closing one follows at
 * once (it is consumed), 1 when members follow.
 */
static int begin(char open, char close)
{
	expect(open);
	ws();
	if (pos < end && *pos == close) {
		pos++;
		return 0;
	}
	return 1;
}

/* After a member: 1 when a ',' says another follows, 0 after the closing bracket. */
static int next(char close)
{
	ws();
	if (pos < end && *pos == ',') {
		pos++;
		return 1;
	}
	expect(close);
	return 0;
}

static void object(void)
{
	if (!begin('{', '}'))
		return;
	do {
		ws();
		string(NULL, 0);
		expect(':');
		value();
	} while (next('}'));
}

static void array(void)
{
	if (!begin('[', ']'))
		return;
	do
		value();
	while (next(']'));
}

static void value(void)
{
	ws();
	if (pos >= end)
		die("unexpected end");
	switch (*pos) {
	case '{': object(); break;
	case '[': array(); break;
	case '"': string(NULL, 0); break;
	case 't': literal("true"); break;
	case 'f': literal("false"); break;
	case 'n': literal("null"); break;
	default: number();
	}
}

/* ---- the trace's events ---------------------------------------------- */

struct count {
	char key[80];
	long n;
	unsigned flags; /* flows: 1 s, 2 t, 4 f */
};

static struct count *tab[3];
static size_t ntab[3], captab[3];

static struct count *count(int t, const char *key)
{
	for (size_t i = 0; i < ntab[t]; i++)
		if (!strcmp(tab[t][i].key, key))
			return &tab[t][i];
	if (ntab[t] == captab[t]) {
		captab[t] = captab[t] ? 2 * captab[t] : 64;
		tab[t] = realloc(tab[t], captab[t] * sizeof(**tab));
		if (!tab[t]) {
			perror("realloc");
			exit(1);
		}
	}
	memset(&tab[t][ntab[t]], 0, sizeof(**tab));
	snprintf(tab[t][ntab[t]].key, sizeof(tab[t][0].key), "%s", key);
	return &tab[t][ntab[t]++];
}

static long events, bad_spans;
static char procs[256][80];
static double proc_pid[256];
static int nprocs;

/* One event object: pick out the fields that matter. */
static void event(void)
{
	char key[64], ph[8] = "", name[80] = "", id[80] = "", argname[80] = "";
	double pid = -1, ts = -1, dur = -1;
	int has_ts = 0, has_dur = 0;

	if (!begin('{', '}'))
		die("empty event");
	do {
		ws();
		string(key, sizeof(key));
		expect(':');
		ws();
		if (!strcmp(key, "ph") && *pos == '"') {
			string(ph, sizeof(ph));
		} else if (!strcmp(key, "name") && *pos == '"') {
			string(name, sizeof(name));
		} else if (!strcmp(key, "id") && *pos == '"') {
			string(id, sizeof(id));
		} else if (!strcmp(key, "pid") && *pos != '"') {
			pid = number();
		} else if (!strcmp(key, "ts") && *pos != '"') {
			ts = number();
			has_ts = 1;
		} else if (!strcmp(key, "dur") && *pos != '"') {
			dur = number();
			has_dur = 1;
		} else if (!strcmp(key, "args") && *pos == '{') {
			/* {"name":"rank 0"} for process_name */
			const char *save = pos;
			pos++;
			ws();
			if (*pos == '"') {
				char k2[16];
				string(k2, sizeof(k2));
				expect(':');
				ws();
				if (!strcmp(k2, "name") && *pos == '"')
					string(argname, sizeof(argname));
			}
			pos = save;
			value();
		} else {
			value();
		}
	} while (next('}'));
	if (!ph[0])
		die("an event without \"ph\"");
	events++;
	count(0, ph)->n++;
	if (!strcmp(ph, "X")) {
		count(1, name)->n++;
		if (!has_ts || !has_dur || dur < 0 || ts < -1e12)
			bad_spans++;
	}
	if (ph[0] && strchr("stf", ph[0]) && !ph[1]) {
		if (!id[0])
			die("a flow event without an id");
		count(2, id)->flags |= ph[0] == 's' ? 1 : ph[0] == 't' ? 2 : 4;
	}
	if (!strcmp(ph, "M") && !strcmp(name, "process_name") && nprocs < 256) {
		for (int i = 0; i < nprocs; i++)
			if (proc_pid[i] == pid)
				die("two process_name events for one pid");
		proc_pid[nprocs] = pid;
		snprintf(procs[nprocs++], sizeof(procs[0]), "%s", argname);
	}
}

int main(int argc, char **argv)
{
	FILE *f;
	long n;
	char key[64];
	int found = 0;
	long complete = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: obs_jsoncheck FILE\n");
		return 2;
	}
	f = fopen(argv[1], "rb");
	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0) {
		perror(argv[1]);
		return 1;
	}
	rewind(f);
	src = malloc((size_t)n + 1);
	if (!src || fread((char *)src, 1, (size_t)n, f) != (size_t)n) {
		perror(argv[1]);
		return 1;
	}
	fclose(f);
	pos = src;
	end = src + n;
	expect('{');
	do {
		ws();
		string(key, sizeof(key));
		expect(':');
		ws();
		if (!strcmp(key, "traceEvents")) {
			found = 1;
			if (begin('[', ']'))
				do {
					ws();
					event();
				} while (next(']'));
		} else {
			value();
		}
	} while (next('}'));
	ws();
	if (pos != end)
		die("text after the top-level object");
	if (!found)
		die("no \"traceEvents\"");
	printf("events %ld\n", events);
	for (size_t i = 0; i < ntab[0]; i++)
		printf("ph %s %ld\n", tab[0][i].key, tab[0][i].n);
	for (size_t i = 0; i < ntab[1]; i++)
		printf("span %s %ld\n", tab[1][i].key, tab[1][i].n);
	for (size_t i = 0; i < ntab[2]; i++)
		complete += (tab[2][i].flags & 5) == 5;
	printf("flows %zu complete %ld\n", ntab[2], complete);
	for (int i = 0; i < nprocs; i++)
		printf("process %s\n", procs[i]);
	printf("bad-span %ld\n", bad_spans);
	return 0;
}
