using Vmm.Abstractions;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>A hugetlb page's page-cache link is kept once per 2 MiB, as Linux keeps it in the folio; each 4 KiB frame still reads its own index.</summary>
public class HugetlbPageCacheLinkTests
{
    private const ulong Page = TestMachine.Page;
    private const ulong Huge = TestMachine.Huge;

    [Fact]
    public void EveryFrameOfAHugetlbPage_ReadsTheFileAndItsOwnIndex_AndNoneOnceTheCacheDropsIt()
    {
        var m = TestMachine.Create(BackingKind.Hugetlb, 8 * TestMachine.MiB);
        m.GuestWrite(Huge + 5 * Page, [1]);
        var file = m.VmNamed().File!;
        var frames = m.Kernel.Mm.Frames;
        var head = m.FrameOf(Huge);

        foreach (var i in new[] { 0, 5, 511 })
        {
            Assert.Equal(file.Id, frames.FileId(head.Add(i)));
            Assert.Equal(512UL + (ulong)i, frames.FileIndex(head.Add(i)));
        }

        m.Kernel.PageCache.Remove(file, 512);

        Assert.Equal(0, frames.FileId(head.Add(5)));
        Assert.Equal(0UL, frames.FileIndex(head.Add(5)));
    }

    [Fact]
    public void HugetlbFrames_CostAboutWhatThpFramesCost_NotAPageCacheLinkPerFrame()
    {
        const ulong memory = 32 * TestMachine.MiB;
        long Footprint(BackingKind backing, bool thp)
        {
            var m = TestMachine.Create(new MachineSetup
            {
                Vms = [TestMachine.Vm(TestMachine.DefaultVm, memory, backing, thp: thp)],
                ThpFor = _ => new AlwaysHugeThp(),
            });
            for (var gpa = 0UL; gpa < memory; gpa += Page) m.GuestWrite(gpa, [1]);
            return m.Kernel.Mm.Frames.FootprintBytes;
        }

        var hugetlb = Footprint(BackingKind.Hugetlb, thp: false);
        var anonThp = Footprint(BackingKind.Anon, thp: true);

        // A 9-byte link (file id and 40-bit index) per 4 KiB frame would add 9 B per page; once per 2 MiB it is a few KiB.
        Assert.True(hugetlb - anonThp < (long)(memory / Page) * 9 / 2, $"hugetlb {hugetlb} B, anon THP {anonThp} B for {memory / Page} pages");
    }
}
