using System.Globalization;
using Vmm.Abstractions;
using Vmm.Core.Paging;

namespace Vmm.Benchmarks.Targets;

/// <summary>
/// The full-4t row: a byte count of a guest every page of which the VMM and the EPT map, in a contents-free run,
/// scaled to 4 TiB. A run at 4 TiB itself (2^30 frames) does not fit this shared machine beside the other work.
/// </summary>
internal static class FullMappingProbe
{
    private const double GuestTiB = 4;

    /// <summary>`--full-4t [guest MiB]` prints the full-4t row alone (default 4096 MiB, the size --targets maps), without the timed rows.</summary>
    public const string Flag = "--full-4t";

    public static int Print(string[] args, TextWriter output)
    {
        var at = Array.IndexOf(args, Flag);
        var guestMiB = args.Length > at + 1 ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : 4096;
        output.Write(TargetReport.Table([Row(guestMiB, "footprint")]));
        return 0;
    }

    public static TargetRow Row(int guestMiB, string job)
    {
        var bytes = (ulong)guestMiB << 20;
        var scale = GuestTiB * (1L << 40) / bytes;
        var huge = Measure(bytes, BackingKind.Anon, thp: true, hugeEpt: true);
        var hugetlb = Measure(bytes, BackingKind.Hugetlb, thp: false, hugeEpt: true);
        var small = Measure(bytes, BackingKind.Anon, thp: false, hugeEpt: false);
        var note = FormattableString.Invariant($"footprint byte count, not a run at 4 TiB: every 4 KiB page of a {guestMiB} MiB guest written by its vCPU (memory plain, memory.contents none, anon backing with THP and kvm.hugeEpt: 2 MiB leaves in the VMM and the EPT), ")
            + FormattableString.Invariant($"Simulation.FootprintBytes (frame table, rmap, written bits: {huge.PerPage(huge.Frames):0.##} B per page) plus both page tables' storage ({huge.PerPage(huge.Vmm):0.###} + {huge.PerPage(huge.Ept):0.###} B per page), times {scale:0} for 4 TiB. ")
            + FormattableString.Invariant($"With hugetlb backing and kvm.hugeEpt: {hugetlb.Total * scale / (1L << 30):0.##} GiB (frame metadata {hugetlb.PerPage(hugetlb.Frames):0.##} B per page: the page-cache link is kept once per huge page). ")
            + FormattableString.Invariant($"With 4 KiB leaves (anon without THP, kvm.hugeEpt off, as before): {small.Total * scale / (1L << 30):0.##} GiB, {small.PerPage(small.Frames):0.##} + {small.PerPage(small.Vmm):0.##} + {small.PerPage(small.Ept):0.##} B per page; two tables of 8-byte x86 entries alone take 16 GiB at 4 TiB");
        return new TargetRow("full-4t", new TargetCheck("4 TiB guest fully mapped, VMM and EPT, contents-free", 24, Bound.AtMost, "GiB", huge.Total * scale / (1L << 30)), job, note);
    }

    private static Footprint Measure(ulong bytes, BackingKind backing, bool thp, bool hugeEpt)
    {
        var simulation = BenchMachine.Create(bytes, contentsFree: true, backing: backing, thp: thp, hugeEpt: hugeEpt);
        var pages = (int)(bytes / PageGeometry.PageSize);
        BenchMachine.TouchSpread(simulation, pages);
        var kernel = simulation.Kernel;
        return new Footprint(pages, simulation.FootprintBytes, ((RadixPageTable)kernel.Vmm.PageTable).StorageBytes, ((RadixPageTable)kernel.Kvm.VmList[0].Ept).StorageBytes);
    }

    private readonly record struct Footprint(int Pages, long Frames, long Vmm, long Ept)
    {
        public long Total => Frames + Vmm + Ept;

        public double PerPage(long bytes) => bytes / (double)Pages;
    }
}
