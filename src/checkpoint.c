/*
 * checkpoint.c - dsm_checkpoint(), and restarting a job from a checkpoint
 * (DSM_RESTART=DIR, which `dsmexec --restart DIR` sets on every rank).
 *
 * A checkpoint directory DIR holds generations; `current` names the one that
 * is complete:
 *   DIR/current               symlink to "gen.N", the committed generation
 *   DIR/gen.N/rank.R.pages    the pages whose home is rank R that were ever
 *                             written and are not all zeros (globals' pages
 *                             even when they are), then rank R's
 *                             allocator cache (alloc.c's cache image)
 *   DIR/gen.N/heap            rank 0's heap: extents and blocks (heap image)
 *   DIR/gen.N/MANIFEST        text, written last: format version, the job's
 *                             shape (ranks, region base and size, page size,
 *                             page homes), time, each file's size and
 *                             BLAKE2b-256, the layout of the DSM_SHARED
 *                             variables; its last line checksums the rest
 * Files are 0600 and directories 0700 (they hold the job's memory); only
 * regular files are read back (open_regular), so a link or a FIFO put in a
 * file's place is refused rather than followed or waited on.
 * rank.R.pages is a 64-byte header ("DSMCKRK1", u32 version, rank, ranks,
 * page size, u64 generation, page count, cache image length, 16 zero bytes),
 * then per page a u64 page number and 4096 bytes, in ascending page order,
 * then the cache image.  All numbers little-endian.
 *
 * Design of dsm_checkpoint(DIR) (the calling application thread of every
 * rank; the service thread only answers two mailbox requests):
 *   rank 0   makes DIR/gen.N+1 (N from DIR/current), first deleting what a
 *            checkpoint that never committed left behind.
 *   barrier  From here until the next barrier no rank writes to the region
 *            or allocates (the rule for callers: every thread of the program
 *            is quiet), so the region holds one state that no rank changes:
 *            the snapshot.  Every write before the barrier is visible to
 *            every read after it (the barrier orders memory; for
 *            release-consistent memory it is a release, which returns once
 *            the homes acknowledged this rank's diffs, and an acquire).
 *   each R   asks its service thread for the home's written pages (the
 *            directory entries that are not virgin, and the
 *            release-consistent pages that have a master copy; every other
 *            page of the home is zeros), reads each one through the region
 *            (a read fault like any other; the owner keeps its copy; a
 *            release-consistent page comes from the master), and writes
 *            rank.R.pages.tmp; fsync, rename, fsync the directory.
 *   rank 0   also asks its service thread for the heap image -> heap.
 *   barrier  Every part is on disk.
 *   rank 0   checksums every file, writes MANIFEST(.tmp, fsync, rename,
 *            fsync), then points current.tmp at gen.N+1 and renames it over
 *            current (fsync DIR): the commit.  Then it deletes gen.N.
 *   barrier  Every rank reads DIR/current: 0 when it names the new
 *            generation, so every rank learns whether the commit happened.
 * A crash anywhere before the rename of current leaves current on gen.N,
 * which nothing in this sequence touches; after it, gen.N+1 is complete and
 * durable.  A restart uses only what current names.
 *
 * Restart (dsm_init -> ckpt_restore, after the mesh is up and before the
 * service thread starts, so no request for a page can arrive): every rank
 * reads the MANIFEST, refuses a checkpoint of another shape, checks its own
 * file's size and checksum, then installs its pages as owned by their home
 * (coh_ckpt_install; rc_ckpt_install makes a release-consistent page's master
 * copy) and loads its allocator cache; rank 0 checks and loads
 * the heap.  No rank leaves dsm_init's barrier before every rank has done so.
 *
 * Test hook: DSM_CKPT_TEST_CRASH=STAGE[@K] makes every rank _exit(99) at
 * STAGE of its K-th dsm_checkpoint() call (default 1): mid-pages (half its
 * pages written), after-pages (its file in place, before the MANIFEST),
 * before-switch (rank 0: MANIFEST in place, current not yet switched).
 *
 * Locking: `restored` is written in dsm_init only; `ncalls` by the thread in
 * dsm_checkpoint (one at a time, like dsm_barrier).
 */
#include "checkpoint.h"

#include <dirent.h>
#include <elf.h>
#include <link.h>
#include <dsm.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "coherence.h"
#include "globals.h"
#include "log.h"
#include "mailbox.h"
#include "pagevec.h"
#include "rc.h"
#include "runtime.h"
#include "transport.h"
#include "wire.h"

/* Format 2 saves release-consistent memory (its pages, the arena's heap);
 * format 1, which had none, is still read. */
#define CKPT_FORMAT 2
#define CKPT_FORMAT_MIN 1
#define RANK_MAGIC "DSMCKRK1"
#define RANK_HDR 64
#define REC_SIZE (8 + DSM_PAGE_SIZE)
#define REC_BATCH 64                 /* records per write(2) */
#define HASH_LEN crypto_generichash_BYTES
#define HEX_LEN (2 * HASH_LEN + 1)
#define MANIFEST_MAX (1u << 30)

static int restored;
static unsigned ncalls;

/* ---- small file helpers ------------------------------------------------ */

static int path_join(char *out, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
		log_err("%s/%s: path too long", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len, const char *path)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			log_err("writing %s: %s", path, strerror(err));
			return -err;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes; -EIO (after logging) at a premature end. */
static int read_all(int fd, void *buf, size_t len, const char *path)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			log_err("reading %s: %s", path, n < 0 ? strerror(err) : "the file ends early");
			return -err;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0 || fsync(fd) < 0) {
		rc = -errno;
		log_err("fsync of directory %s: %s", dir, strerror(-rc));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* fsync fd, close it, rename tmp to final and fsync the directory. */
static int commit_file(int fd, const char *tmp, const char *final, const char *dir)
{
	int rc = 0;

	if (fsync(fd) < 0) {
		rc = -errno;
		log_err("fsync of %s: %s", tmp, strerror(-rc));
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		log_err("closing %s: %s", tmp, strerror(-rc));
	}
	if (rc == 0 && rename(tmp, final) < 0) {
		rc = -errno;
		log_err("renaming %s to %s: %s", tmp, final, strerror(-rc));
	}
	return rc ? rc : fsync_dir(dir);
}

static void to_hex(char *hex, const uint8_t *h)
{
	for (size_t i = 0; i < HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

/*
 * Open a checkpoint file for reading: only a regular file, never through a
 * symbolic link, never blocking (a FIFO or a device put in its place would
 * hang or spin the restart).  Its fd and size, or -errno after a message
 * naming the file.
 */
static int open_regular(const char *path, uint64_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY), rc;

	if (fd < 0) {
		rc = -errno;
		if (rc == -ELOOP)
			log_err("%s: a symbolic link, not a checkpoint file: refused", path);
		else
			log_err("%s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		log_err("%s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("%s: not a regular file (%s): refused", path,
			S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" :
			S_ISDIR(st.st_mode) ? "a directory" : S_ISSOCK(st.st_mode) ? "a socket" : "not a file");
		close(fd);
		return -EINVAL;
	}
	/* reads of a regular file never block; back to plain reads */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*size = (uint64_t)st.st_size;
	return fd;
}

/* Size and BLAKE2b-256 (hex) of a file; with want_size, a file of another
 * size is refused before it is read. */
static int hash_file(const char *path, const uint64_t *want_size, uint64_t *size, char *hex)
{
	crypto_generichash_state st;
	uint8_t buf[1 << 16], h[HASH_LEN];
	uint64_t fsize;
	int fd = open_regular(path, &fsize);
	ssize_t n;

	if (fd < 0)
		return fd;
	if (want_size && fsize != *want_size) {
		log_err("%s: %" PRIu64 " bytes, the MANIFEST says %" PRIu64 ": the file is truncated or was "
			"replaced", path, fsize, *want_size);
		close(fd);
		return -EINVAL;
	}
	crypto_generichash_init(&st, NULL, 0, HASH_LEN);
	*size = 0;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;
			log_err("reading %s: %s", path, strerror(err));
			close(fd);
			return -err;
		}
		crypto_generichash_update(&st, buf, (size_t)n);
		*size += (uint64_t)n;
		if (*size > fsize) {
			log_err("%s: grows while it is read: refused", path);
			close(fd);
			return -EINVAL;
		}
	}
	close(fd);
	crypto_generichash_final(&st, h, HASH_LEN);
	to_hex(hex, h);
	return 0;
}

/* DIR/current -> its generation number; -ENOENT when there is none. */
static int read_current(const char *dir, uint64_t *gen)
{
	char path[PATH_MAX], link[64], *end;
	ssize_t n;
	int rc;

	if ((rc = path_join(path, dir, "current")))
		return rc;
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	errno = 0;
	if (strncmp(link, "gen.", 4) || !link[4] || (*gen = strtoull(link + 4, &end, 10), errno || *end) ||
	    *gen == 0) {
		log_err("%s: points to '%s', not to a generation gen.N", path, link);
		return -EINVAL;
	}
	return 0;
}

static void gen_name(char *out, size_t len, uint64_t gen)
{
	snprintf(out, len, "gen.%" PRIu64, gen);
}

/* Delete DIR/name and the files in it. */
static int remove_gen(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dp;
	int rc = 0;

	if ((rc = path_join(path, dir, name)))
		return rc;
	dp = opendir(path);
	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dp)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && unlinkat(dirfd(dp), d->d_name, 0) < 0 &&
		    rc == 0)
			rc = -errno;
	closedir(dp);
	if (rc == 0 && rmdir(path) < 0)
		rc = -errno;
	if (rc)
		log_warn("cannot delete %s: %s", path, strerror(-rc));
	return rc;
}

/* ---- the test hook ------------------------------------------------------ */

static const char *const stages[] = { "mid-pages", "after-pages", "before-switch" };
static int crash_stage = -1;
static unsigned long crash_call;

static int parse_crash(void)
{
	const char *v = getenv("DSM_CKPT_TEST_CRASH");
	size_t len;

	crash_stage = -1;
	if (!v || !*v)
		return 0;
	len = strcspn(v, "@");
	for (int i = 0; i < (int)(sizeof(stages) / sizeof(stages[0])); i++)
		if (strlen(stages[i]) == len && !strncmp(v, stages[i], len))
			crash_stage = i;
	crash_call = 1;
	if (crash_stage >= 0 && v[len] == '@') {
		char *end;
		errno = 0;
		crash_call = strtoul(v + len + 1, &end, 10);
		if (errno || *end || crash_call == 0 || v[len + 1] < '0' || v[len + 1] > '9')
			crash_stage = -1;
	}
	if (crash_stage < 0) {
		log_err("DSM_CKPT_TEST_CRASH=%s: expected mid-pages, after-pages or before-switch, "
			"optionally followed by @K (the K-th checkpoint)", v);
		return -EINVAL;
	}
	return 0;
}

static void crash_point(int stage)
{
	if (stage == crash_stage && ncalls == crash_call) {
		log_warn("DSM_CKPT_TEST_CRASH=%s: exiting in the middle of checkpoint %u", stages[stage], ncalls);
		_exit(99);
	}
}

/* ---- service thread ----------------------------------------------------- */

/* The written pages of this home, of both consistencies, sorted. */
static int list_pages(uint64_t **pages, size_t *n)
{
	uint64_t *sc, *rcp, *v;
	size_t nsc, nrc;
	int rc;

	if ((rc = coh_ckpt_list(&sc, &nsc)))
		return rc;
	if ((rc = rc_ckpt_list(&rcp, &nrc))) {
		free(sc);
		return rc;
	}
	if (!(v = realloc(sc, (nsc + nrc + 1) * sizeof(*v)))) {
		free(sc);
		free(rcp);
		return -ENOMEM;
	}
	memcpy(v + nsc, rcp, nrc * sizeof(*v));
	free(rcp);
	qsort(v, nsc + nrc, sizeof(*v), page_cmp);
	*pages = v;
	*n = nsc + nrc;
	return 0;
}

void ckpt_request(struct mbox_req *req)
{
	uint64_t *pages = NULL;
	uint8_t *img = NULL;
	void *out;
	size_t n;
	int rc;

	switch (req->kind) {
	case MBOX_CKPT_PAGES:
		rc = list_pages(&pages, &n);
		out = pages;
		break;
	case MBOX_CKPT_HEAP:
		rc = alloc_heap_save(&img, &n);
		out = img;
		break;
	default:
		mbox_complete(req, -ENOSYS);
		return;
	}
	if (rc == 0) {
		req->p = out;
		req->a = n;
	}
	mbox_complete(req, rc);
}

/* ---- the layout of DSM_SHARED variables ---------------------------------
 *
 * A checkpoint holds the pages of the DSM_SHARED sections by page number, so
 * it fits only a program whose variables lie where they lay.  The MANIFEST
 * records, after its file list, one line per module that has the section
 * (and the program in any case) and one per variable in it, from the
 * module's symbol table:
 *   shared KIND BUILD-ID SECTION-BYTES NAME     (KIND x: program, l: library)
 *   var OFFSET BYTES SYMBOL                     (in the section above)
 * A restart compares: an identical build is fine; a rebuild whose variables
 * have the same names, offsets and sizes is fine (and said at info level);
 * anything else is refused naming the first variable that differs. */

struct lvar {
	uint64_t off, size;
	char name[256];
};

static int lvar_cmp(const void *a, const void *b)
{
	const struct lvar *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The symbols in the module's section `secname` ("dsm_shared" or
 * "dsm_shared_rc"), sorted by offset: *out (malloc'd) and *n; *n = 0 when the
 * file has no symbol table. */
static int section_symbols(const char *file, const char *secname, struct lvar **out, size_t *n)
{
	ElfW(Ehdr) eh;
	ElfW(Shdr) *sh = NULL;
	ElfW(Sym) *syms = NULL;
	char *shnames = NULL, *strs = NULL;
	struct lvar *v = NULL;
	size_t nv = 0, nsyms;
	unsigned sec = 0, tab = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC), rc = -ENOEXEC;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	if (pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_shentsize != sizeof(ElfW(Shdr)) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum)
		goto out;
	if (!(sh = malloc((size_t)eh.e_shnum * sizeof(*sh))) ||
	    pread(fd, sh, (size_t)eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff) != (ssize_t)(eh.e_shnum * sizeof(*sh)))
		goto out;
	if (sh[eh.e_shstrndx].sh_size > (1u << 24) || !(shnames = malloc(sh[eh.e_shstrndx].sh_size + 1)) ||
	    pread(fd, shnames, sh[eh.e_shstrndx].sh_size, (off_t)sh[eh.e_shstrndx].sh_offset) !=
		    (ssize_t)sh[eh.e_shstrndx].sh_size)
		goto out;
	shnames[sh[eh.e_shstrndx].sh_size] = '\0';
	for (unsigned i = 1; i < eh.e_shnum; i++) {
		if (sh[i].sh_name < sh[eh.e_shstrndx].sh_size && !strcmp(shnames + sh[i].sh_name, secname))
			sec = i;
		if (sh[i].sh_type == SHT_SYMTAB || (sh[i].sh_type == SHT_DYNSYM && !tab))
			tab = i;
	}
	rc = 0;
	if (!sec || !tab || sh[tab].sh_link >= eh.e_shnum || sh[tab].sh_size > (1u << 28) ||
	    sh[sh[tab].sh_link].sh_size > (1u << 28))
		goto out; /* no section, or stripped: nothing to name */
	rc = -ENOEXEC;
	nsyms = sh[tab].sh_size / sizeof(ElfW(Sym));
	if (!(syms = malloc(sh[tab].sh_size + 1)) || !(strs = malloc(sh[sh[tab].sh_link].sh_size + 1)) ||
	    pread(fd, syms, sh[tab].sh_size, (off_t)sh[tab].sh_offset) != (ssize_t)sh[tab].sh_size ||
	    pread(fd, strs, sh[sh[tab].sh_link].sh_size, (off_t)sh[sh[tab].sh_link].sh_offset) !=
		    (ssize_t)sh[sh[tab].sh_link].sh_size)
		goto out;
	strs[sh[sh[tab].sh_link].sh_size] = '\0';
	if (!(v = calloc(nsyms ? nsyms : 1, sizeof(*v)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nsyms; i++) {
		const ElfW(Sym) *y = &syms[i];
		const char *name = y->st_name < sh[sh[tab].sh_link].sh_size ? strs + y->st_name : "";

		if (y->st_shndx != sec || ELF64_ST_TYPE(y->st_info) != STT_OBJECT || !*name ||
		    strlen(name) >= sizeof(v->name) || strpbrk(name, " \t\n") || y->st_value < sh[sec].sh_addr)
			continue;
		v[nv].off = y->st_value - sh[sec].sh_addr;
		v[nv].size = y->st_size;
		snprintf(v[nv].name, sizeof(v[nv].name), "%s", name);
		nv++;
	}
	qsort(v, nv, sizeof(*v), lvar_cmp);
	*out = v;
	*n = nv;
	v = NULL;
	rc = 0;
out:
	free(v);
	free(strs);
	free(syms);
	free(shnames);
	free(sh);
	close(fd);
	return rc;
}

/* This program's layout, as MANIFEST lines, into f. */
static int write_layout(FILE *f)
{
	struct globals_module_info m;

	for (unsigned i = 0; globals_module(i, &m) == 0; i++) {
		const char *id = m.id, *path = m.path;
		size_t len = m.len;
		char kind = m.kind;
		const char *file = kind == 'x' ? "/proc/self/exe" : path, *bn = strrchr(path, '/');
		struct lvar *v;
		size_t n;
		int rc;

		if (kind != 'x' && !len)
			continue;
		bn = bn ? bn + 1 : path;
		fprintf(f, "shared %c %s %zu ", kind, id, len);
		for (; *bn; bn++) /* one word: the name is for messages */
			fputc(*bn == ' ' || *bn == '\n' ? '_' : *bn, f);
		fputc('\n', f);
		if (!len)
			continue;
		if ((rc = section_symbols(file, m.section, &v, &n)) < 0) {
			log_err("dsm_checkpoint: cannot read the symbols of %s: %s", path, strerror(-rc));
			return rc;
		}
		for (size_t k = 0; k < n; k++)
			fprintf(f, "var %" PRIu64 " %" PRIu64 " %s\n", v[k].off, v[k].size, v[k].name);
		free(v);
	}
	return 0;
}

struct lmod {
	char kind;
	char id[130];
	uint64_t len;
	char name[256];
	struct lvar *v;
	size_t n, cap;
};

static void lmods_free(struct lmod *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].v);
	free(m);
}

/* Parse layout lines (NUL-terminated text) into modules; -EINVAL when
 * malformed. */
static int parse_layout(char *text, struct lmod **out, size_t *nout)
{
	struct lmod *m = NULL;
	size_t n = 0;

	for (char *line = text, *nl; *line; line = nl + 1) {
		if (!(nl = strchr(line, '\n')))
			goto bad;
		*nl = '\0';
		if (!strncmp(line, "shared ", 7)) {
			struct lmod *nm = realloc(m, (n + 1) * sizeof(*m));
			int used = 0;
			if (!nm)
				goto bad;
			m = nm;
			memset(&m[n], 0, sizeof(m[n]));
			if (sscanf(line + 7, "%c %129s %" SCNu64 " %255s%n", &m[n].kind, m[n].id, &m[n].len, m[n].name,
				   &used) != 4 || line[7 + used])
				goto bad;
			n++;
		} else if (!strncmp(line, "var ", 4) && n) {
			struct lmod *c = &m[n - 1];
			struct lvar x;
			int used = 0;
			if (sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %255s%n", &x.off, &x.size, x.name, &used) != 3 ||
			    line[4 + used])
				goto bad;
			if (c->n == c->cap) {
				size_t cap = c->cap ? 2 * c->cap : 16;
				struct lvar *nv = realloc(c->v, cap * sizeof(*nv));
				if (!nv)
					goto bad;
				c->v = nv;
				c->cap = cap;
			}
			c->v[c->n++] = x;
		} else {
			goto bad;
		}
	}
	*out = m;
	*nout = n;
	return 0;
bad:
	lmods_free(m, n);
	return -EINVAL;
}

static const struct lvar *find_var(const struct lmod *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

/* Why layout `now` cannot take the pages of `was`, into why[len]; "" when
 * it can. */
static void layout_diff(const struct lmod *was, size_t nw, const struct lmod *now, size_t nn, char *why, size_t len)
{
	*why = '\0';
	for (size_t i = 0; i < nw && i < nn; i++) {
		const struct lmod *a = &was[i], *b = &now[i];
		const char *what = b->kind == 'x' ? "the program" : b->name;

		if (!strcmp(a->id, b->id) && a->len == b->len)
			continue; /* the same build */
		for (size_t k = 0; k < a->n || k < b->n; k++) {
			const struct lvar *x = k < a->n ? &a->v[k] : NULL, *y = k < b->n ? &b->v[k] : NULL, *o;

			if (x && y && x->off == y->off && x->size == y->size && !strcmp(x->name, y->name))
				continue;
			if (y && !(o = find_var(a, y->name)))
				snprintf(why, len, "DSM_SHARED variable '%s' of %s (offset %" PRIu64 ", %" PRIu64
					 " bytes) is not in the checkpoint", y->name, what, y->off, y->size);
			else if (y)
				snprintf(why, len, "DSM_SHARED variable '%s' of %s is at offset %" PRIu64 " (%" PRIu64
					 " bytes) in the checkpoint, at %" PRIu64 " (%" PRIu64 " bytes) in this program",
					 y->name, what, o->off, o->size, y->off, y->size);
			else
				snprintf(why, len, "DSM_SHARED variable '%s' of %s is in the checkpoint (offset %" PRIu64
					 ", %" PRIu64 " bytes) but not in this program", x->name, what, x->off, x->size);
			return;
		}
		if (a->len != b->len) {
			snprintf(why, len, "the DSM_SHARED variables of %s take %" PRIu64 " bytes in the checkpoint, "
				 "%" PRIu64 " in this program", what, a->len, b->len);
			return;
		}
		if (a->len && !a->n && !b->n) {
			snprintf(why, len, "%s was rebuilt (build id %.16s... in the checkpoint, %.16s... now) and has "
				 "no symbol table to tell whether its DSM_SHARED variables moved", what, a->id, b->id);
			return;
		}
	}
	if (nw != nn) {
		const struct lmod *extra = nw > nn ? &was[nn] : &now[nw];
		snprintf(why, len, "%s with DSM_SHARED variables (%s) is %s", nw > nn ? "a library" : "a library",
			 extra->name, nw > nn ? "in the checkpoint but not loaded now" : "loaded now but not in "
			 "the checkpoint");
	}
}

/* At restart: refuse a checkpoint whose DSM_SHARED layout is not this
 * program's.  `was`: the MANIFEST's layout lines (NULL: an older checkpoint
 * without them). */
static int check_layout(const char *gdir, char *was_text)
{
	struct lmod *was = NULL, *now = NULL;
	size_t nw = 0, nn = 0, len = 0;
	char *text = NULL, why[768];
	FILE *f;
	int rc;

	if (!was_text) {
		log_info("%s records no layout of DSM_SHARED variables (an older checkpoint): not checked", gdir);
		return 0;
	}
	if (!(f = open_memstream(&text, &len)))
		return -ENOMEM;
	rc = write_layout(f);
	if (fclose(f) || !text) {
		free(text);
		return rc ? rc : -ENOMEM;
	}
	if (rc)
		goto out;
	if (!strcmp(text, was_text))
		goto out; /* the same build */
	if (parse_layout(was_text, &was, &nw) || parse_layout(text, &now, &nn)) {
		log_err("%s/MANIFEST: malformed 'shared' or 'var' lines", gdir);
		rc = -EINVAL;
		goto out;
	}
	layout_diff(was, nw, now, nn, why, sizeof(why));
	if (*why) {
		log_err("%s cannot restore this program: %s (restart with the program that wrote it)", gdir, why);
		rc = -EINVAL;
	} else {
		log_info("%s was written by another build of this program with the same DSM_SHARED variables: "
			 "restoring", gdir);
	}
out:
	lmods_free(was, nw);
	lmods_free(now, nn);
	free(text);
	return rc;
}

/* ---- writing a checkpoint ----------------------------------------------- */

/*
 * A file NAME of DIR is written as DIR/NAME.tmp, then renamed (commit_file):
 * fills in both paths and creates the temporary file.  Its fd, or -errno.
 */
static int create_tmp(char *tmp, char *final, const char *dir, const char *name)
{
	char tname[NAME_MAX + 1];
	int fd, rc;

	snprintf(tname, sizeof(tname), "%s.tmp", name);
	if ((rc = path_join(final, dir, name)) || (rc = path_join(tmp, dir, tname)))
		return rc;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = -errno;
		log_err("dsm_checkpoint: cannot create %s: %s", tmp, strerror(-rc));
		return rc;
	}
	return fd;
}

/* rank 0, before the first barrier: DIR exists, gen.N+1 is new and empty. */
static int prepare(const char *dir, uint64_t *gen)
{
	char keep[32], name[32], path[PATH_MAX];
	struct dirent *d;
	DIR *dp;
	int rc;

	if (mkdir(dir, 0700) == 0) {
		/* A new DIR must survive a crash too: its parent records it. */
		char parent[PATH_MAX];
		snprintf(parent, sizeof(parent), "%s", dir);
		if ((rc = fsync_dir(dirname(parent))))
			return rc;
	} else if (errno != EEXIST) {
		rc = -errno;
		log_err("dsm_checkpoint: cannot create %s: %s", dir, strerror(-rc));
		return rc;
	}
	rc = read_current(dir, gen);
	if (rc == -ENOENT)
		*gen = 0;
	else if (rc)
		return rc;
	gen_name(keep, sizeof(keep), *gen);
	/* What a checkpoint that never committed (or an old generation that
	 * was not yet deleted) left behind. */
	dp = opendir(dir);
	if (!dp) {
		rc = -errno;
		log_err("dsm_checkpoint: %s: %s", dir, strerror(-rc));
		return rc;
	}
	while ((d = readdir(dp)))
		if (!strncmp(d->d_name, "gen.", 4) && strcmp(d->d_name, keep))
			remove_gen(dir, d->d_name);
	closedir(dp);
	if ((rc = path_join(path, dir, "current.tmp")))
		return rc;
	unlink(path);
	gen_name(name, sizeof(name), *gen + 1);
	if ((rc = path_join(path, dir, name)))
		return rc;
	if (mkdir(path, 0700) < 0) {
		rc = -errno;
		log_err("dsm_checkpoint: cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	return fsync_dir(dir);
}

/* Every rank, between the first two barriers: rank.R.pages. */
static int write_pages(const char *gdir, uint64_t gen)
{
	struct mbox_req req = { .kind = MBOX_CKPT_PAGES };
	char tmp[PATH_MAX], final[PATH_MAX], name[64];
	uint8_t hdr[RANK_HDR] = { 0 }, *buf = NULL, *cimg = NULL;
	uint64_t *pages = NULL, saved = 0;
	size_t n, clen = 0, inbuf = 0;
	int fd = -1, rc;

	rc = tp_call(&req);
	if (rc) {
		log_err("dsm_checkpoint: cannot list this home's pages: %s", strerror(-rc));
		return rc;
	}
	pages = req.p;
	n = (size_t)req.a;
	buf = malloc(REC_BATCH * REC_SIZE);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(name, sizeof(name), "rank.%d.pages", rt.rank);
	if ((fd = create_tmp(tmp, final, gdir, name)) < 0) {
		rc = fd;
		goto out;
	}
	if ((rc = write_all(fd, hdr, RANK_HDR, tmp)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint8_t *rec = buf + inbuf * REC_SIZE;

		if (i == n / 2)
			crash_point(0);
		/* Through the region, like the program would read it. */
		memcpy(rec + 8, page_addr(pages[i]), DSM_PAGE_SIZE);
		/* A restart leaves a page of the region virgin: zeros.  A page
		 * of DSM_SHARED globals starts again as the program's image,
		 * whose initial values may not be zeros: it is kept. */
		if (pages[i] < rt.region_pages && page_all_zero(rec + 8))
			continue;
		put_le64(rec, pages[i]);
		saved++;
		if (++inbuf == REC_BATCH) {
			if ((rc = write_all(fd, buf, inbuf * REC_SIZE, tmp)))
				goto out;
			inbuf = 0;
		}
	}
	if (n == 0)
		crash_point(0);
	if (inbuf && (rc = write_all(fd, buf, inbuf * REC_SIZE, tmp)))
		goto out;
	if ((rc = alloc_cache_save(&cimg, &clen)) || (rc = write_all(fd, cimg, clen, tmp)))
		goto out;
	memcpy(hdr, RANK_MAGIC, 8);
	put_le32(hdr + 8, CKPT_FORMAT);
	put_le32(hdr + 12, (uint32_t)rt.rank);
	put_le32(hdr + 16, (uint32_t)rt.size);
	put_le32(hdr + 20, DSM_PAGE_SIZE);
	put_le64(hdr + 24, gen);
	put_le64(hdr + 32, saved);
	put_le64(hdr + 40, clen);
	if (pwrite(fd, hdr, RANK_HDR, 0) != RANK_HDR) {
		rc = errno ? -errno : -EIO;
		log_err("writing %s: %s", tmp, strerror(-rc));
		goto out;
	}
	rc = commit_file(fd, tmp, final, gdir);
	fd = -1;
	if (rc == 0)
		log_debug("checkpoint %" PRIu64 ": %" PRIu64 " of %zu written pages saved (the rest are zeros)", gen,
			  saved, n);
out:
	if (fd >= 0)
		close(fd);
	free(cimg);
	free(buf);
	free(pages);
	return rc;
}

/* rank 0, between the first two barriers: the heap. */
static int write_heap(const char *gdir)
{
	struct mbox_req req = { .kind = MBOX_CKPT_HEAP };
	char tmp[PATH_MAX], final[PATH_MAX];
	int fd, rc;

	rc = tp_call(&req);
	if (rc) {
		log_err("dsm_checkpoint: cannot take the heap's state: %s", strerror(-rc));
		return rc;
	}
	if ((fd = create_tmp(tmp, final, gdir, "heap")) < 0) {
		rc = fd;
		goto out;
	}
	rc = write_all(fd, req.p, (size_t)req.a, tmp);
	if (rc)
		close(fd);
	else
		rc = commit_file(fd, tmp, final, gdir);
out:
	free(req.p);
	return rc;
}

/* rank 0, after the second barrier: MANIFEST, then switch current. */
static int write_manifest(const char *dir, const char *gdir, uint64_t gen)
{
	char tmp[PATH_MAX], final[PATH_MAX], path[PATH_MAX], hex[HEX_LEN], name[64], when[64];
	uint8_t h[HASH_LEN];
	char *text = NULL;
	size_t len = 0;
	uint64_t size;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int fd, rc = 0;

	f = open_memstream(&text, &len);
	if (!f)
		return -ENOMEM;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "dsm-checkpoint %d\n", CKPT_FORMAT);
	fprintf(f, "generation %" PRIu64 "\n", gen);
	fprintf(f, "time %lld %s\n", (long long)now, when);
	fprintf(f, "ranks %d\n", rt.size);
	fprintf(f, "base %#" PRIx64 "\n", (uint64_t)rt.base);
	fprintf(f, "region_size %zu\n", rt.region_size);
	fprintf(f, "page_size %u\n", DSM_PAGE_SIZE);
	if (rt.pages_per_home)
		fprintf(f, "home block %" PRIu64 "\n", rt.pages_per_home);
	else
		fprintf(f, "home cyclic 0\n");
	for (int r = -1; r < rt.size && rc == 0; r++) {
		if (r < 0)
			snprintf(name, sizeof(name), "heap");
		else
			snprintf(name, sizeof(name), "rank.%d.pages", r);
		if ((rc = path_join(path, gdir, name)) == 0 && (rc = hash_file(path, NULL, &size, hex)) == 0)
			fprintf(f, "file %s %" PRIu64 " %s\n", name, size, hex);
	}
	if (rc == 0)
		rc = write_layout(f);
	if (fclose(f) || !text) {
		free(text);
		return rc ? rc : -ENOMEM;
	}
	if (rc) {
		log_err("dsm_checkpoint: a part of checkpoint %" PRIu64 " is missing; it is not committed", gen);
		goto out;
	}
	crypto_generichash(h, HASH_LEN, (const uint8_t *)text, len, NULL, 0);
	to_hex(hex, h);
	if ((fd = create_tmp(tmp, final, gdir, "MANIFEST")) < 0) {
		rc = fd;
		goto out;
	}
	if ((rc = write_all(fd, text, len, tmp)) == 0 && dprintf(fd, "checksum %s\n", hex) < 0)
		rc = -EIO;
	if (rc) {
		close(fd);
		goto out;
	}
	if ((rc = commit_file(fd, tmp, final, gdir)))
		goto out;
	crash_point(2);
	/* The commit: current moves to the new generation in one rename. */
	gen_name(name, sizeof(name), gen);
	if ((rc = path_join(tmp, dir, "current.tmp")) || (rc = path_join(final, dir, "current")))
		goto out;
	unlink(tmp);
	if (symlink(name, tmp) < 0 || rename(tmp, final) < 0) {
		rc = -errno;
		log_err("dsm_checkpoint: cannot point %s at %s: %s", final, name, strerror(-rc));
		goto out;
	}
	if ((rc = fsync_dir(dir)))
		goto out;
	if (gen > 1) {
		gen_name(name, sizeof(name), gen - 1);
		remove_gen(dir, name);
	}
out:
	free(text);
	return rc;
}

int dsm_checkpoint(const char *dir)
{
	char gdir[PATH_MAX], name[32];
	uint64_t gen = 0, now_gen = 0;
	int rc = 0, brc;

	if (!rt_live("dsm_checkpoint") || !dir || !*dir)
		return -EINVAL;
	if (dsm_num_servers() > 0) {
		log_err("dsm_checkpoint: not supported in a job with serve-only ranks (their pages have no "
			"application thread to save them)");
		return -ENOTSUP;
	}
	if ((rc = parse_crash()))
		return rc;
	ncalls++;
	if (rt.rank == 0)
		rc = prepare(dir, &gen);
	/* A release: this rank's dirty release-consistent pages go to their
	 * homes as diffs, and it returns once every home has acknowledged them;
	 * so after the barrier the homes' master copies hold every write made
	 * before the checkpoint.  (The barrier releases too, but not in a job
	 * of one rank, whose home must still have its master copies.) */
	if (rc == 0)
		rc = rc_release();
	if ((brc = dsm_barrier()))
		return brc;
	/* current does not move until every rank is past the next barrier. */
	if (rt.rank != 0 && rc == 0) {
		rc = read_current(dir, &gen);
		if (rc == -ENOENT)
			rc = 0, gen = 0;
	}
	gen_name(name, sizeof(name), ++gen);
	if (rc == 0)
		rc = path_join(gdir, dir, name);
	if (rc == 0)
		rc = write_pages(gdir, gen);
	if (rc == 0 && rt.rank == 0)
		rc = write_heap(gdir);
	if (rc == 0)
		crash_point(1);
	if ((brc = dsm_barrier()))
		return brc;
	if (rt.rank == 0 && rc == 0)
		rc = write_manifest(dir, gdir, gen);
	if ((brc = dsm_barrier()))
		return brc;
	if (rc)
		return rc;
	if (read_current(dir, &now_gen) || now_gen != gen) {
		if (rt.rank != 0)
			log_err("dsm_checkpoint: checkpoint %" PRIu64 " in %s was not committed (see rank 0)", gen,
				dir);
		return -EIO;
	}
	log_info("checkpoint %" PRIu64 " committed in %s", gen, gdir);
	return 0;
}

/* ---- restart ------------------------------------------------------------ */

struct manifest {
	uint64_t gen, base, region_size, page_size, ranks, per_home;
	int block;
	char heap_hex[HEX_LEN], my_hex[HEX_LEN];
	uint64_t heap_size, my_size;
	char *layout;  /* the 'shared' and 'var' lines (malloc'd), NULL: none */
};

static int read_whole(const char *path, char **out, size_t *len)
{
	uint64_t size;
	int fd = open_regular(path, &size), rc;
	char *buf;

	if (fd < 0)
		return fd;
	if (size > MANIFEST_MAX) {
		log_err("%s: %" PRIu64 " bytes, too large for a checkpoint file read whole", path, size);
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	rc = read_all(fd, buf, (size_t)size, path);
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	buf[size] = '\0';
	*out = buf;
	*len = (size_t)size;
	return 0;
}

/* The next line of the MANIFEST, which must start with `key `. */
static char *next_line(char **pos, const char *key)
{
	char *line = *pos, *nl = strchr(line, '\n');
	size_t k = strlen(key);

	if (!nl)
		return NULL;
	*nl = '\0';
	*pos = nl + 1;
	if (strncmp(line, key, k) || line[k] != ' ')
		return NULL;
	return line + k + 1;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static int parse_file_line(const char *v, const char *name, uint64_t *size, char *hex)
{
	size_t k = strlen(name);
	char *end;

	if (!v || strncmp(v, name, k) || v[k] != ' ')
		return -1;
	errno = 0;
	*size = strtoull(v + k + 1, &end, 10);
	if (errno || *end != ' ' || strlen(end + 1) != HEX_LEN - 1 || strspn(end + 1, "0123456789abcdef") != HEX_LEN - 1)
		return -1;
	memcpy(hex, end + 1, HEX_LEN);
	return 0;
}

static int read_manifest(const char *gdir, struct manifest *m)
{
	char path[PATH_MAX], hex[HEX_LEN], name[64], *text, *pos, *v, *sum;
	uint8_t h[HASH_LEN];
	uint64_t size;
	size_t len;
	int rc;

	if ((rc = path_join(path, gdir, "MANIFEST")) || (rc = read_whole(path, &text, &len)))
		return rc;
	rc = -EINVAL;
	/* The last line checksums everything before it. */
	sum = len >= 2 ? memrchr(text, '\n', len - 1) : NULL;
	sum = sum ? sum + 1 : text;
	if (len == 0 || text[len - 1] != '\n' || strncmp(sum, "checksum ", 9) || strlen(sum) != 9 + HEX_LEN) {
		log_err("%s: truncated or not a dsm checkpoint MANIFEST (no checksum line at the end)", path);
		goto out;
	}
	crypto_generichash(h, HASH_LEN, (const uint8_t *)text, (size_t)(sum - text), NULL, 0);
	to_hex(hex, h);
	if (strncmp(sum + 9, hex, HEX_LEN - 1)) {
		log_err("%s: its checksum does not match its contents: the file is corrupt", path);
		goto out;
	}
	*sum = '\0';
	pos = text;
	v = next_line(&pos, "dsm-checkpoint");
	if (!v || parse_u64(v, &size)) {
		log_err("%s: not a dsm checkpoint MANIFEST", path);
		goto out;
	}
	if (size < CKPT_FORMAT_MIN || size > CKPT_FORMAT) {
		log_err("%s: checkpoint format %s; this library reads formats %d to %d", path, v, CKPT_FORMAT_MIN,
			CKPT_FORMAT);
		goto out;
	}
#define FIELD(key, dst)                                                                  \
	if (!(v = next_line(&pos, key)) || parse_u64(v, dst)) {                          \
		log_err("%s: missing or malformed '%s' line", path, key);                \
		goto out;                                                                \
	}
	FIELD("generation", &m->gen);
	if (!next_line(&pos, "time")) {
		log_err("%s: missing or malformed '%s' line", path, "time");
		goto out;
	}
	FIELD("ranks", &m->ranks);
	FIELD("base", &m->base);
	FIELD("region_size", &m->region_size);
	FIELD("page_size", &m->page_size);
#undef FIELD
	v = next_line(&pos, "home");
	if (v && !strncmp(v, "cyclic ", 7) && !parse_u64(v + 7, &m->per_home) && m->per_home == 0) {
		m->block = 0;
	} else if (v && !strncmp(v, "block ", 6) && !parse_u64(v + 6, &m->per_home) && m->per_home) {
		m->block = 1;
	} else {
		log_err("%s: missing or malformed 'home' line", path);
		goto out;
	}
	if (m->ranks == 0 || m->ranks > (1u << 24)) {
		log_err("%s: %" PRIu64 " ranks is out of range", path, m->ranks);
		goto out;
	}
	for (uint64_t r = 0; r <= m->ranks; r++) {
		int heap = r == 0;
		if (heap)
			snprintf(name, sizeof(name), "heap");
		else
			snprintf(name, sizeof(name), "rank.%" PRIu64 ".pages", r - 1);
		if (parse_file_line(next_line(&pos, "file"), name, &size, hex)) {
			log_err("%s: missing or malformed 'file %s' line", path, name);
			goto out;
		}
		if (heap) {
			m->heap_size = size;
			memcpy(m->heap_hex, hex, HEX_LEN);
		} else if (r - 1 == (uint64_t)rt.rank) {
			m->my_size = size;
			memcpy(m->my_hex, hex, HEX_LEN);
		}
	}
	if (*pos && strncmp(pos, "shared ", 7)) {
		log_err("%s: unexpected lines after the file list", path);
		goto out;
	}
	if (*pos && !(m->layout = strdup(pos))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

/* Append sep and a formatted text to msg[cap], which holds *k bytes. */
static void __attribute__((format(printf, 5, 6))) appendf(char *msg, size_t cap, size_t *k, const char *sep,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*k + 1 >= cap)
		return;
	n = snprintf(msg + *k, cap - *k, "%s", sep);
	*k = n < 0 || (size_t)n >= cap - *k ? cap - 1 : *k + (size_t)n;
	if (*k + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg + *k, cap - *k, fmt, ap);
	va_end(ap);
	*k = n < 0 || (size_t)n >= cap - *k ? cap - 1 : *k + (size_t)n;
}

/* The checkpoint must be of a job of this one's shape: say everything that
 * differs, in one line. */
static int check_shape(const char *gdir, const struct manifest *m)
{
	char msg[1024];
	size_t k = 0;
	int n = 0;

#define DIFF(...) appendf(msg, sizeof(msg), &k, n++ ? "; " : "", __VA_ARGS__)
	if (m->ranks != (uint64_t)rt.size)
		DIFF("it was taken by a job of %" PRIu64 " ranks, this job has %d (dsmexec -n)", m->ranks, rt.size);
	if (m->base != (uint64_t)rt.base)
		DIFF("its region starts at %#" PRIx64 ", this job's at %#" PRIx64 " (DSM_BASE)", m->base,
		     (uint64_t)rt.base);
	if (m->region_size != rt.region_size)
		DIFF("its region is %" PRIu64 " bytes, this job's %zu (DSM_SIZE)", m->region_size, rt.region_size);
	if (m->page_size != DSM_PAGE_SIZE)
		DIFF("its pages are %" PRIu64 " bytes, this library's %u", m->page_size, DSM_PAGE_SIZE);
	if (m->block != (rt.pages_per_home != 0))
		DIFF("its page homes are %s, this job's %s (DSM_HOME)", m->block ? "block" : "cyclic",
		     rt.pages_per_home ? "block" : "cyclic");
	else if (m->block && m->per_home != rt.pages_per_home)
		DIFF("its page homes are blocks of %" PRIu64 " pages, this job's of %" PRIu64, m->per_home,
		     rt.pages_per_home);
#undef DIFF
	if (!n)
		return 0;
	log_err("%s cannot restore this job: %s", gdir, msg);
	return -EINVAL;
}

/* Is the file what the MANIFEST says (size, then checksum)? */
static int check_file(const char *path, uint64_t want_size, const char *want_hex)
{
	char hex[HEX_LEN];
	uint64_t size;
	int rc = hash_file(path, &want_size, &size, hex);

	if (rc)
		return rc;
	if (size != want_size) {
		log_err("%s: %" PRIu64 " bytes, the MANIFEST says %" PRIu64 ": the file is truncated or was "
			"replaced", path, size, want_size);
		return -EINVAL;
	}
	if (strcmp(hex, want_hex)) {
		log_err("%s: its checksum does not match the MANIFEST: the file is corrupt", path);
		return -EINVAL;
	}
	return 0;
}

static int restore_pages(const char *gdir, const struct manifest *m, uint64_t *npages)
{
	char path[PATH_MAX], name[64];
	uint8_t hdr[RANK_HDR], *buf = NULL, *cimg = NULL;
	uint64_t n, clen, last = 0;
	int fd = -1, rc;

	snprintf(name, sizeof(name), "rank.%d.pages", rt.rank);
	if ((rc = path_join(path, gdir, name)) || (rc = check_file(path, m->my_size, m->my_hex)))
		return rc;
	fd = open_regular(path, &n);
	if (fd < 0)
		return fd;
	if ((rc = read_all(fd, hdr, RANK_HDR, path)))
		goto out;
	n = get_le64(hdr + 32);
	clen = get_le64(hdr + 40);
	rc = -EINVAL;
	if (memcmp(hdr, RANK_MAGIC, 8) || get_le32(hdr + 8) < CKPT_FORMAT_MIN || get_le32(hdr + 8) > CKPT_FORMAT) {
		log_err("%s: not a dsm checkpoint page file of format %d to %d", path, CKPT_FORMAT_MIN, CKPT_FORMAT);
		goto out;
	}
	if (get_le32(hdr + 12) != (uint32_t)rt.rank || get_le32(hdr + 16) != (uint32_t)rt.size ||
	    get_le32(hdr + 20) != DSM_PAGE_SIZE || get_le64(hdr + 24) != m->gen) {
		log_err("%s: its header (rank %u of %u, generation %" PRIu64 ") does not belong here", path,
			get_le32(hdr + 12), get_le32(hdr + 16), get_le64(hdr + 24));
		goto out;
	}
	if (n > rt.npages || clen > m->my_size || RANK_HDR + n * REC_SIZE + clen != m->my_size) {
		log_err("%s: its header's counts do not match its size", path);
		goto out;
	}
	buf = malloc(REC_BATCH * REC_SIZE);
	cimg = malloc(clen ? clen : 1);
	if (!buf || !cimg) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t i = 0; i < n;) {
		size_t k = n - i < REC_BATCH ? (size_t)(n - i) : REC_BATCH;

		if ((rc = read_all(fd, buf, k * REC_SIZE, path)))
			goto out;
		for (size_t j = 0; j < k; j++, i++) {
			const uint8_t *rec = buf + j * REC_SIZE;
			uint64_t page = get_le64(rec);

			/* A release-consistent page's home may have moved here
			 * (rc_ckpt_install checks it). */
			if (page >= rt.npages || (!rc_page(page) && page_home(page) != rt.rank) ||
			    (i && page <= last)) {
				log_err("%s: record %" PRIu64 " is for page %" PRIu64 ", which is not the next "
					"page of this rank's home", path, i, page);
				rc = -EINVAL;
				goto out;
			}
			last = page;
			rc = rc_page(page) ? rc_ckpt_install(page, rec + 8) : coh_ckpt_install(page, rec + 8);
			if (rc) {
				log_err("cannot install page %" PRIu64 " from %s: %s", page, path, strerror(-rc));
				goto out;
			}
		}
	}
	if ((rc = read_all(fd, cimg, clen, path)) || (rc = alloc_cache_load(cimg, clen, path)))
		goto out;
	*npages = n;
out:
	free(cimg);
	free(buf);
	close(fd);
	return rc;
}

static int restore_heap(const char *gdir, const struct manifest *m)
{
	char path[PATH_MAX], *img = NULL;
	size_t len;
	int rc;

	if ((rc = path_join(path, gdir, "heap")) || (rc = check_file(path, m->heap_size, m->heap_hex)))
		return rc;
	if ((rc = read_whole(path, &img, &len)))
		return rc;
	rc = alloc_heap_load((const uint8_t *)img, len, path);
	free(img);
	return rc;
}

int ckpt_restore(void)
{
	const char *dir = getenv("DSM_RESTART");
	char gdir[PATH_MAX], name[32], path[PATH_MAX];
	struct manifest m = { 0 };
	uint64_t gen, npages = 0;
	int rc;

	restored = 0;
	if ((rc = parse_crash())) /* a bad setting is refused at start, not at the first checkpoint */
		return rc;
	if (!dir || !*dir)
		return 0;
	rc = read_current(dir, &gen);
	if (rc == 0) {
		gen_name(name, sizeof(name), gen);
		if ((rc = path_join(gdir, dir, name)))
			return rc;
	} else if (rc == -ENOENT) {
		/* DIR may name one generation itself. */
		if ((rc = path_join(path, dir, "MANIFEST")))
			return rc;
		if (access(path, F_OK)) {
			log_err("DSM_RESTART=%s: no checkpoint there (neither %s/current nor %s/MANIFEST)", dir, dir,
				dir);
			return -ENOENT;
		}
		snprintf(gdir, sizeof(gdir), "%s", dir);
	} else {
		log_err("DSM_RESTART=%s: %s/current: %s", dir, dir, strerror(-rc));
		return rc;
	}
	if ((rc = read_manifest(gdir, &m)))
		return rc;
	if ((rc = check_shape(gdir, &m)) || (rc = check_layout(gdir, m.layout)) ||
	    (rc = restore_pages(gdir, &m, &npages)) || (rt.rank == 0 && (rc = restore_heap(gdir, &m)))) {
		free(m.layout);
		return rc;
	}
	free(m.layout);
	rc_ckpt_restored();
	restored = 1;
	log_info("restored checkpoint %" PRIu64 " from %s: %" PRIu64 " pages of this home", m.gen, gdir, npages);
	return 0;
}

int dsm_checkpoint_restored(void)
{
	return restored;
}
