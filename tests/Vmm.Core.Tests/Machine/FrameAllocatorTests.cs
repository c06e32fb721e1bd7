using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

public class FrameAllocatorTests
{
    [Fact]
    public void Allocate_HandsOutEveryFrameOnceButNeverTheZeroPage()
    {
        var frames = new FrameTable(2 * PageGeometry.PagesPerHuge);
        var allocator = new FrameAllocator(frames);

        var pfns = Enumerable.Range(0, 2 * PageGeometry.PagesPerHuge - 1).Select(_ => allocator.Allocate()).ToList();

        Assert.DoesNotContain(FrameAllocator.ZeroPage, pfns);
        Assert.Equal(pfns.Count, pfns.Distinct().Count());
        Assert.All(pfns, pfn => Assert.True(frames.Has(pfn, FrameFlags.InUse)));
        Assert.Equal(Pfn.Invalid, allocator.Allocate());
        Assert.Equal(2 * PageGeometry.PagesPerHuge, allocator.AllocatedFrames);
    }

    [Fact]
    public void Free_PushesTheFrameBackAndAllocateReusesItFirst()
    {
        var frames = new FrameTable(2 * PageGeometry.PagesPerHuge);
        var allocator = new FrameAllocator(frames);
        var a = allocator.Allocate();
        allocator.Allocate();

        allocator.Free(a);

        Assert.True(allocator.IsFree(a));
        Assert.Equal(2, allocator.AllocatedFrames);
        Assert.Equal(a, allocator.Allocate());
    }

    [Fact]
    public void AllocateHuge_ReturnsAnAlignedCompoundRunFromTheTop()
    {
        var frames = new FrameTable(4 * PageGeometry.PagesPerHuge);
        var allocator = new FrameAllocator(frames);

        var head = allocator.AllocateHuge();

        Assert.Equal(new Pfn(3 * PageGeometry.PagesPerHuge), head);
        Assert.True(frames.Has(head.Add(511), FrameFlags.Compound | FrameFlags.InUse));
        Assert.Equal(1 + PageGeometry.PagesPerHuge, allocator.AllocatedFrames);
    }

    [Fact]
    public void FreedThp_ReallocatedAsThp_IsNotAlsoHandedOutAs4KFrames()
    {
        var m = TestMachine.Create();
        Expect.Ok(m.Madvise(0, TestMachine.Huge, "HUGEPAGE"));
        Expect.Ok(m.HostWrite(0, 1));
        var head = m.FrameOf(0);
        Expect.Ok(m.Madvise(0, TestMachine.Huge, "DONTNEED")); // frees the THP: its frames and its run
        Assert.True(m.Kernel.Mm.Allocator.IsFree(head.Add(7)));

        Expect.Ok(m.HostWrite(0, 2));
        Assert.Equal(head, m.FrameOf(0)); // the run came back from the huge free stack
        Assert.Equal(true, m.Inspect(0)["huge"]);

        var small = Enumerable.Range(0, 600).Select(_ => m.Kernel.Mm.AllocateFrame()).ToList();

        Assert.DoesNotContain(small, pfn => pfn >= head && pfn < head.Add(PageGeometry.PagesPerHuge));
        Assert.True(m.Kernel.Mm.Frames.Has(head.Add(5), FrameFlags.Compound));
    }
}
