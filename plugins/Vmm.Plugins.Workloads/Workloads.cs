using Vmm.Abstractions;

namespace Vmm.Plugins.Workloads;

/// <summary>boot: the guest touches its memory (writes secrets), shares DMA buffers that a device fills, and reads its memory back.</summary>
public sealed class BootWorkload(WorkloadOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, options.Pages);
        var dma = pages.Take(Math.Max(1, pages.Length / 8)).ToHashSet();
        var written = new Dictionary<int, byte[]>();
        for (var i = 0; i < pages.Length; i++)
            if (!dma.Contains(pages[i])) written[pages[i]] = Guest.WriteSecret(scenario, Guest.Vm, pages[i], i * 8);
        foreach (var page in dma)
        {
            Guest.Convert(scenario, Guest.Vm, page, toShared: true);
            var data = Guest.Plain(random, Guest.WriteSize);
            scenario.Step("device.dma-write", Guest.Vm, Guest.Gpa(page), ("data", data));
            scenario.Step("guest.read", Guest.Vm, Guest.Gpa(page), ("len", data.Length), ("shared", true));
        }
        foreach (var (page, data) in written) Guest.ReadBack(scenario, Guest.Vm, page, data);
    }
}

/// <summary>
/// virtio-io: a shared ring the VMM reads and writes, and bounce buffers the guest converts to shared for each request
/// and back to private afterwards, re-using them for secrets.
/// </summary>
public sealed class VirtioIoWorkload(RoundsOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, Math.Max(2, Math.Min(options.Pages, options.GuestPages)));
        var ring = pages[0];
        var buffers = pages.Skip(1).ToArray();
        Guest.Convert(scenario, Guest.Vm, ring, toShared: true);
        for (var round = 0; round < options.Rounds; round++)
        {
            var buffer = buffers[round % buffers.Length];
            Guest.Convert(scenario, Guest.Vm, buffer, toShared: true);
            var request = Guest.Plain(random, Guest.WriteSize);
            scenario.Step("guest.write", Guest.Vm, Guest.Gpa(buffer), ("data", request), ("shared", true));
            scenario.Step("guest.write", Guest.Vm, Guest.Gpa(ring), ("data", Guest.Plain(random, 16)), ("shared", true));
            scenario.Step("host.read", Guest.Vm, Guest.Gpa(ring), ("len", 16));
            scenario.Step("host.read", Guest.Vm, Guest.Gpa(buffer), ("len", Guest.WriteSize));
            var reply = Guest.Plain(random, Guest.WriteSize);
            scenario.Step("host.write", Guest.Vm, Guest.Gpa(buffer), ("data", reply));
            scenario.Step("guest.read", Guest.Vm, Guest.Gpa(buffer), ("len", reply.Length), ("shared", true));
            Guest.Convert(scenario, Guest.Vm, buffer, toShared: false);
            var secret = Guest.WriteSecret(scenario, Guest.Vm, buffer, round * 8);
            Guest.ReadBack(scenario, Guest.Vm, buffer, secret);
        }
    }
}

/// <summary>
/// prealloc: the VMM pre-faults guest memory before boot (as cloud VMMs do for NUMA placement), then the guest writes
/// its secrets and reads them back, and the VMM reads through the mappings it made before boot: a design that only
/// blocks new faults, and does not convert existing mappings, leaks here.
/// </summary>
public sealed class PreallocWorkload(WorkloadOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, options.Pages);
        foreach (var page in pages.Order()) scenario.Step("host.write", Guest.Vm, Guest.Gpa(page), ("data", new byte[8]));
        var written = new List<(int Page, byte[] Data)>();
        for (var i = 0; i < pages.Length; i++) written.Add((pages[i], Guest.WriteSecret(scenario, Guest.Vm, pages[i], i * 8)));
        foreach (var (page, data) in written) Guest.ReadBack(scenario, Guest.Vm, page, data);
        foreach (var page in pages.Order()) scenario.Step("host.read", Guest.Vm, Guest.Gpa(page), ("len", Guest.WriteSize));
    }
}

/// <summary>vmm-dump: the guest writes secrets and shares a few pages; then the VMM reads all touched guest memory, as a core dump or a naive migration does.</summary>
public sealed class VmmDumpWorkload(WorkloadOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, options.Pages);
        var shared = pages.Take(Math.Max(1, pages.Length / 4)).ToHashSet();
        for (var i = 0; i < pages.Length; i++)
        {
            if (shared.Contains(pages[i]))
            {
                Guest.Convert(scenario, Guest.Vm, pages[i], toShared: true);
                scenario.Step("guest.write", Guest.Vm, Guest.Gpa(pages[i]), ("data", Guest.Plain(random, Guest.WriteSize)), ("shared", true));
            }
            else
                Guest.WriteSecret(scenario, Guest.Vm, pages[i], i * 8);
        }
        foreach (var page in pages.Order()) scenario.Step("host.read", Guest.Vm, Guest.Gpa(page), ("len", Guest.WriteSize));
    }
}

/// <summary>
/// malicious-vmm: the VMM and host-kernel paths go after private pages. First reads, one path per page in turn:
/// loads, GUP, /proc/pid/mem, process_vm_readv, read(2) of the backing file, device DMA, KVM's own copy_from_guest and
/// a driver through the direct map; the guest then reads its data back. Last, writes: the VMM stores into a private
/// page, the guest uses it, and a driver (or a crash dump) reads it: can a VMM write crash the host?
/// </summary>
public sealed class MaliciousVmmWorkload(WorkloadOptions options) : IWorkload
{
    private static readonly string[] Reads =
        ["host.read", "host.gup", "host.procmem-read", "host.process-vm-readv", "host.pread", "device.dma-read", "kernel.read-kvm", "kernel.read"];

    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, Math.Max(options.Pages, Reads.Length + 1));
        var writes = pages.Take(Math.Max(1, pages.Length / (Reads.Length + 1))).ToArray();
        var written = new List<(int Page, byte[] Data)>();
        for (var i = 0; i < pages.Length; i++) written.Add((pages[i], Guest.WriteSecret(scenario, Guest.Vm, pages[i], i * 8)));
        var read = pages.Skip(writes.Length).ToArray();
        for (var i = 0; i < read.Length; i++)
        {
            var gpa = Guest.Gpa(read[i]);
            switch (Reads[i % Reads.Length])
            {
                case "host.read": scenario.Step("host.read", Guest.Vm, gpa, ("len", Guest.WriteSize)); break;
                case "host.gup": scenario.Step("host.gup", Guest.Vm, gpa, ("flags", new[] { "write" })); break;
                case "host.procmem-read": scenario.Step("host.procmem-read", Guest.Vm, gpa, ("len", Guest.WriteSize)); break;
                case "host.process-vm-readv": scenario.Step("host.process-vm-readv", Guest.Vm, gpa, ("len", Guest.WriteSize)); break;
                case "host.pread": scenario.Step("host.pread", Guest.Vm, null, ("offset", gpa), ("len", Guest.WriteSize)); break;
                case "device.dma-read": scenario.Step("device.dma-read", Guest.Vm, gpa, ("len", Guest.WriteSize)); break;
                case "kernel.read-kvm": scenario.Step("kernel.read", Guest.Vm, gpa, ("len", Guest.WriteSize), ("requester", "kvm")); break;
                default: scenario.Step("kernel.read", Guest.Vm, gpa, ("len", Guest.WriteSize)); break;
            }
        }
        foreach (var (page, data) in written.Skip(writes.Length)) Guest.ReadBack(scenario, Guest.Vm, page, data);
        // Writes last: under a design that lets them through, the host may not survive them.
        for (var i = 0; i < writes.Length; i++)
        {
            var gpa = Guest.Gpa(writes[i]);
            scenario.Step("host.write", Guest.Vm, gpa, ("data", Guest.Plain(random, 8)));
            Guest.ReadBack(scenario, Guest.Vm, writes[i], written[i].Data);
            scenario.Step("kernel.read", Guest.Vm, gpa, ("len", 8));
        }
    }
}

/// <summary>memory-errors: real uncorrectable errors at random guest pages, some consumed at once by the guest; then the guest reads all its pages.</summary>
public sealed class MemoryErrorsWorkload(RoundsOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, options.Pages);
        var written = new List<(int Page, byte[] Data)>();
        for (var i = 0; i < pages.Length; i++) written.Add((pages[i], Guest.WriteSecret(scenario, Guest.Vm, pages[i], i * 8)));
        foreach (var page in Guest.PickPages(random, pages.Length, Math.Min(options.Rounds, pages.Length)).Select(i => pages[i]))
            scenario.Step("hw.memory-error", Guest.Vm, Guest.Gpa(page), ("consumed", random.Next(2) == 0));
        foreach (var (page, data) in written) Guest.ReadBack(scenario, Guest.Vm, page, data);
    }
}

/// <summary>discard: the guest balloons pages away (shares them), the VMM punches holes in the backing file and drops its mappings, and the guest touches them again.</summary>
public sealed class DiscardWorkload(WorkloadOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        scenario.Vm(Guest.Vm, (ulong)options.MemoryMiB << 20);
        var pages = Guest.PickPages(random, options.GuestPages, options.Pages);
        var ballooned = pages.Take(Math.Max(1, pages.Length / 2)).ToArray();
        var kept = new List<(int Page, byte[] Data)>();
        for (var i = 0; i < pages.Length; i++)
        {
            var data = Guest.WriteSecret(scenario, Guest.Vm, pages[i], i * 8);
            if (i >= ballooned.Length) kept.Add((pages[i], data));
        }
        foreach (var page in ballooned)
        {
            Guest.Convert(scenario, Guest.Vm, page, toShared: true);
            scenario.Step("host.fallocate", Guest.Vm, null, ("offset", Guest.Gpa(page)), ("size", Guest.PageSize), ("mode", new[] { "PUNCH_HOLE", "KEEP_SIZE" }));
            scenario.Step("host.madvise", Guest.Vm, Guest.Gpa(page), ("size", Guest.PageSize), ("advice", "DONTNEED"));
        }
        foreach (var page in ballooned)
        {
            Guest.Convert(scenario, Guest.Vm, page, toShared: false);
            var data = Guest.WriteSecret(scenario, Guest.Vm, page, 60000 + page % 1000);
            Guest.ReadBack(scenario, Guest.Vm, page, data);
        }
        foreach (var (page, data) in kept) Guest.ReadBack(scenario, Guest.Vm, page, data);
    }
}

/// <summary>
/// thp-heavy: an anonymous-memory guest the VMM pre-faults with transparent huge pages (a touch of every 4 KiB page,
/// as -mem-prealloc does). With sharing "scattered" the guest keeps secrets in scattered pages and shares other
/// scattered 4 KiB pages (virtio bounce buffers); with "whole" it first touches a few pages of some 2 MiB regions
/// privately (as boot does) and then shares each region whole (a swiotlb pool); "mixed" does both. The VMM reads
/// what is shared.
/// </summary>
public sealed class ThpHeavyWorkload(ThpHeavyOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        var memory = Math.Max(8, options.MemoryMiB);
        scenario.Vm(Guest.Vm, (ulong)memory << 20, backing: "anon", thp: true);
        var hugePages = memory / 2;
        var pagesPerHuge = (int)(Guest.HugePageSize / Guest.PageSize);
        // -mem-prealloc touches every base page: with THP the first touch of each 2 MiB maps it huge, without it every touch faults.
        for (var page = 0; page < memory * 256; page++) scenario.Step("host.write", Guest.Vm, Guest.Gpa(page), ("data", new byte[1]));
        var scattered = options.Sharing is "scattered" or "mixed";
        var regions = options.Sharing is "whole" or "mixed"
            ? Guest.PickPages(random, hugePages, Math.Max(1, hugePages / 4)).Order().ToArray()
            : [];
        foreach (var region in regions)
            foreach (var page in Guest.PickPages(random, pagesPerHuge, 4))
                Guest.WriteSecret(scenario, Guest.Vm, region * pagesPerHuge + page, page);
        var shared = Array.Empty<int>();
        if (scattered)
        {
            var pages = Guest.PickPages(random, memory * 256, Math.Min(options.Pages, memory * 256))
                .Where(p => !regions.Contains(p / pagesPerHuge)).ToArray();
            foreach (var page in pages.Take(pages.Length / 2))
                Guest.WriteSecret(scenario, Guest.Vm, page, page);
            shared = pages.Skip(pages.Length / 2).ToArray();
            foreach (var page in shared)
            {
                Guest.Convert(scenario, Guest.Vm, page, toShared: true);
                scenario.Step("guest.write", Guest.Vm, Guest.Gpa(page), ("data", Guest.Plain(random, Guest.WriteSize)), ("shared", true));
            }
        }
        foreach (var region in regions)
        {
            var first = region * pagesPerHuge;
            Guest.Convert(scenario, Guest.Vm, first, toShared: true, Guest.HugePageSize);
            scenario.Step("guest.write", Guest.Vm, Guest.Gpa(first), ("data", Guest.Plain(random, Guest.WriteSize)), ("shared", true));
        }
        foreach (var page in shared.Order()) scenario.Step("host.read", Guest.Vm, Guest.Gpa(page), ("len", Guest.WriteSize));
        foreach (var region in regions)
            for (var page = region * pagesPerHuge; page < (region + 1) * pagesPerHuge; page += 64)
                scenario.Step("host.read", Guest.Vm, Guest.Gpa(page), ("len", Guest.WriteSize));
    }
}

/// <summary>
/// two-vms: one VMM maps the same backing into two VMs (td2's memslot is MAP_FIXED over by td1's backing file, as
/// a buggy or malicious VMM can). td1 writes secrets; td2 then touches the same gfns, privately and shared; KVM's
/// copy for td2 reads them too; td1 reads its data back. Whether td2 ever sees td1's data is what struct-page
/// ownership tracking, KVM's checks or the hardware must stop.
/// </summary>
public sealed class TwoVmsWorkload(WorkloadOptions options) : IWorkload
{
    public void Write(ScenarioWriter scenario, WorkloadContext context)
    {
        var random = context.Random;
        var memory = (ulong)options.MemoryMiB << 20;
        scenario.Vm("td1", memory).Vm("td2", memory);
        scenario.Step("host.mmap-backing", "td1", null, ("offset", 0UL), ("size", memory), ("overVm", "td2"));
        var pages = Guest.PickPages(random, options.GuestPages, options.Pages);
        var written = new List<(int Page, byte[] Data)>();
        foreach (var page in pages) written.Add((page, Guest.WriteSecret(scenario, "td1", page, page, owner: 0)));
        for (var i = 0; i < pages.Length; i++)
        {
            var gpa = Guest.Gpa(pages[i]);
            switch (i % 3)
            {
                case 0: scenario.Step("guest.read", "td2", gpa, ("len", Guest.WriteSize)); break;
                case 1: scenario.Step("kernel.read", "td2", gpa, ("len", Guest.WriteSize), ("requester", "kvm")); break;
                default: scenario.Step("guest.write", "td2", gpa, ("data", Guest.Plain(random, 8))); break;
            }
        }
        foreach (var (page, data) in written) Guest.ReadBack(scenario, "td1", page, data);
    }
}
