/*
 * The latency floor of a user-space ARP responder, for `run.ts --floor`: the least a process can do when a
 * request wakes it (blocking recv() on an AF_PACKET socket, a reply built with memcpy, send()). Whatever
 * l2lb adds above this figure is the cost of its runtime and code; what this adds above the kernel's own
 * answer is the cost of waking a process at all.
 *
 * Usage: floor IFNAME A.B.C.D   (answers ARP requests for that IPv4 address with IFNAME's MAC; runs until killed)
 */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IFNAME IPV4\n", argv[0]);
    return 2;
  }
  unsigned char vip[4];
  if (inet_pton(AF_INET, argv[2], vip) != 1) {
    fprintf(stderr, "bad IPv4 address %s\n", argv[2]);
    return 2;
  }
  int s = socket(AF_PACKET, SOCK_RAW, htons(0x0806));
  if (s < 0) {
    perror("socket");
    return 1;
  }
  struct sockaddr_ll addr = {0};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(0x0806);
  addr.sll_ifindex = (int)if_nametoindex(argv[1]);
  if (addr.sll_ifindex == 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("bind");
    return 1;
  }
  char path[300];
  snprintf(path, sizeof path, "/sys/class/net/%s/address", argv[1]);
  FILE *fp = fopen(path, "r");
  unsigned m[6];
  if (!fp || fscanf(fp, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
    fprintf(stderr, "cannot read %s\n", path);
    return 1;
  }
  fclose(fp);
  unsigned char mac[6];
  for (int i = 0; i < 6; i++) mac[i] = (unsigned char)m[i];
  static const unsigned char reply_header[8] = {0, 1, 8, 0, 6, 4, 0, 2}; /* Ethernet/IPv4, op 2 */
  unsigned char in[2048], out[42];
  for (;;) {
    ssize_t n = recv(s, in, sizeof in, 0);
    /* request (op 1) whose target IP is ours */
    if (n < 42 || in[20] != 0 || in[21] != 1 || memcmp(in + 38, vip, 4) != 0) continue;
    memcpy(out, in + 22, 6); /* to the requester's MAC */
    memcpy(out + 6, mac, 6);
    out[12] = 0x08;
    out[13] = 0x06;
    memcpy(out + 14, reply_header, 8);
    memcpy(out + 22, mac, 6);
    memcpy(out + 28, vip, 4);
    memcpy(out + 32, in + 22, 6);
    memcpy(out + 38, in + 28, 4);
    send(s, out, sizeof out, 0);
  }
}
