using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

public class GetUserPagesTests
{
    private static TestMachine WithWrittenPages(int pages)
    {
        var m = TestMachine.Create();
        for (var i = 0; i < pages; i++) Expect.Ok(m.HostWrite((ulong)i * TestMachine.Page, (byte)(i + 1)));
        return m;
    }

    [Fact]
    public void HostGup_OfWrittenPages_ReturnsTheirCount()
    {
        var m = WithWrittenPages(4);

        Assert.Equal(4, Expect.Count(m.Gup(0, pages: 4)));
    }

    [Fact]
    public void GetUserPages_ReturnsTheMappedFramesInOrder()
    {
        var m = WithWrittenPages(3);
        var taken = new List<Pfn>();

        var n = m.Kernel.FaultHandler.GetUserPages(m.VmmProcess, m.HvaOf(0), 3, GupFlags.None, taken, out var error);

        Assert.Equal(3, n);
        Assert.Equal((Errno)0, error);
        Assert.Equal([m.FrameOf(0), m.FrameOf(TestMachine.Page), m.FrameOf(2 * TestMachine.Page)], taken);
        m.Kernel.FaultHandler.PutPages(taken);
    }

    [Fact]
    public void GetUserPages_OfUntouchedAnonForRead_FaultsInTheZeroPage()
    {
        var m = TestMachine.Create();
        var taken = new List<Pfn>();

        Assert.Equal(1, m.Kernel.FaultHandler.GetUserPages(m.VmmProcess, m.HvaOf(0), 1, GupFlags.None, taken, out _));

        Assert.Equal(FrameAllocator.ZeroPage, taken[0]);
        Assert.False(m.VmmPte(0).IsWritable);
    }

    [Fact]
    public void GetUserPages_ForWrite_OfUntouchedAnon_AllocatesAWritableFrame()
    {
        var m = TestMachine.Create();
        var taken = new List<Pfn>();

        Assert.Equal(1, m.Kernel.FaultHandler.GetUserPages(m.VmmProcess, m.HvaOf(0), 1, GupFlags.Write, taken, out _));

        Assert.NotEqual(FrameAllocator.ZeroPage, taken[0]);
        Assert.True(m.VmmPte(0).IsWritable);
        Assert.Equal(2, m.Kernel.Mm.RefCount(taken[0])); // the mapping and GUP
        m.Kernel.FaultHandler.PutPages(taken);
        Assert.Equal(1, m.Kernel.Mm.RefCount(m.FrameOf(0)));
    }

    [Fact]
    public void HostGup_HwPoisonEntryAtFirstPage_FailsEfault()
    {
        var m = WithWrittenPages(2);
        Expect.Ok(m.Madvise(0, TestMachine.Page, "HWPOISON"));

        Expect.Error(Errno.EFAULT, m.Gup(0, pages: 2));
    }

    [Fact]
    public void HostGup_HwPoisonEntryAtLaterPage_ReturnsShortCount()
    {
        var m = WithWrittenPages(4);
        Expect.Ok(m.Madvise(2 * TestMachine.Page, TestMachine.Page, "HWPOISON"));

        Assert.Equal(2, Expect.Count(m.Gup(0, pages: 4)));
        Assert.Equal(2, Expect.Count(m.Gup(0, pages: 4, flags: GupFlags.HwPoison)));
    }

    [Fact]
    public void HostGup_WithHwPoisonFlag_OnHwPoisonEntry_FailsEhwpoison()
    {
        var m = WithWrittenPages(1);
        Expect.Ok(m.Madvise(0, TestMachine.Page, "HWPOISON"));

        Expect.Error(Errno.EHWPOISON, m.Gup(0, flags: GupFlags.HwPoison));
        Expect.Error(Errno.EHWPOISON, m.Gup(0, flags: GupFlags.HwPoison | GupFlags.Write | GupFlags.Fast));
    }

    [Fact]
    public void GetUserPages_ShortCount_ReportsTheErrnoOfTheFailingPage()
    {
        var m = WithWrittenPages(3);
        Expect.Ok(m.Madvise(TestMachine.Page, TestMachine.Page, "HWPOISON"));
        var taken = new List<Pfn>();

        var n = m.Kernel.FaultHandler.GetUserPages(m.VmmProcess, m.HvaOf(0), 3, GupFlags.HwPoison, taken, out var error);

        Assert.Equal(1, n);
        Assert.Equal(Errno.EHWPOISON, error);
        Assert.Equal([m.FrameOf(0)], taken);
        m.Kernel.FaultHandler.PutPages(taken);
    }

    [Fact]
    public void HostGup_Pin_KeepsAReferenceAndAPin()
    {
        var m = WithWrittenPages(2);
        var pfn = m.FrameOf(0);

        Assert.Equal(2, Expect.Count(m.Gup(0, pages: 2, flags: GupFlags.Pin)));

        Assert.Equal(2, m.Kernel.Mm.RefCount(pfn));
        Assert.Equal(1, m.Kernel.Mm.Frames.PinCountOf(pfn));
        Assert.Equal(2, m.Kernel.Mm.RefCount(m.FrameOf(TestMachine.Page)));
    }

    [Fact]
    public void HostGup_WithoutPin_LeavesNoReferenceBehind()
    {
        var m = WithWrittenPages(3);
        var frames = Enumerable.Range(0, 3).Select(i => m.FrameOf((ulong)i * TestMachine.Page)).ToArray();

        Assert.Equal(3, Expect.Count(m.Gup(0, pages: 3, flags: GupFlags.Write)));

        Assert.All(frames, pfn => Assert.Equal(1, m.Kernel.Mm.RefCount(pfn)));
        Assert.All(frames, pfn => Assert.Equal(0, m.Kernel.Mm.Frames.PinCountOf(pfn)));
    }

    [Fact]
    public void HostGup_OutsideAnyVma_FailsEfault()
    {
        var m = TestMachine.Create();

        Expect.Error(Errno.EFAULT, m.Run("host.gup", null, hva: 0x1000, pages: 1));
    }

    [Fact]
    public void HostGup_PinnedPageSurvivesMunmap_UntilItsReferenceIsDropped()
    {
        var m = WithWrittenPages(1);
        var pfn = m.FrameOf(0);
        Expect.Count(m.Gup(0, flags: GupFlags.Pin));
        var allocated = m.Kernel.Mm.Allocator.AllocatedFrames;

        Expect.Ok(m.Munmap(0, TestMachine.Page));

        Assert.Equal(1, m.Kernel.Mm.RefCount(pfn));
        Assert.Equal(0, m.Kernel.Mm.MapCount(pfn));
        Assert.Equal(allocated, m.Kernel.Mm.Allocator.AllocatedFrames);
        Assert.False(m.Kernel.Mm.Allocator.IsFree(pfn));
    }
}
