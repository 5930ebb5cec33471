/*
 * share_part.c - the second file of share_main.c's program, compiled by
 * plain cc and handed to dsmcc as an object: its globals are shared too.
 */
int part_value = 5;
static int zeros[2000];

int *part_zero(void)
{
	return zeros;
}
