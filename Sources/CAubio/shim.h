// aubio (Debian's libaubio-dev): onset detection and tempo tracking for /media/analyze/music.
#include <aubio/aubio.h>
