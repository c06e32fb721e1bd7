using Vmm.Abstractions;
using Vmm.Core.Engine.Ops;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>
/// Every op family that copies bytes, with a 16-byte pattern straddling the 4 KiB boundary at gpa 0x2000: the
/// first 8 bytes must land at the end of one frame and the last 8 at the start of the next page's frame (read
/// from physical memory, not through the path under test), nothing beside them, and reading back through the
/// path must return the pattern.
/// </summary>
public class PageBoundaryAccessTests
{
    private const ulong Boundary = 0x2000;
    private const ulong At = Boundary - 8;
    private const ulong Page = TestMachine.Page;
    private static readonly byte[] Pattern = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27];

    /// <summary>
    /// A machine whose two guest pages at the boundary sit in frames that are not neighbours (the later page is
    /// touched first); the frame right after the first page's holds the page after them, 0xEE at its start and a
    /// poisoned first line. A piece that ran past its page would write into that frame or consume its poison.
    /// </summary>
    private static TestMachine Machine(BackingKind backing = BackingKind.Anon)
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, backing: backing)] });
        Expect.Ok(m.HostWrite(Boundary, [0]));
        Expect.Ok(m.HostWrite(Boundary - Page, [0]));
        Expect.Ok(m.HostWrite(Boundary + Page, [0xEE]));
        Assert.Equal(m.FrameOf(Boundary - Page).Add(1), m.FrameOf(Boundary + Page));
        m.Kernel.Memory.PoisonLine(m.FrameOf(Boundary + Page), 0);
        return m;
    }

    /// <summary>Frame contents at [pfn, offset): what was stored, independent of any access path.</summary>
    private static byte[] Stored(TestMachine m, Pfn pfn, int offset, int length)
    {
        var frame = m.Kernel.Mm.PhysicalMemory.Peek(pfn);
        return frame.IsEmpty ? new byte[length] : frame.Slice(offset, length).ToArray();
    }

    /// <summary>The pattern's two halves sit on either side of the boundary, in the frames behind those two guest pages.</summary>
    private static void AssertStraddles(TestMachine m, Pfn before, Pfn after)
    {
        Assert.NotEqual(before, after);
        Assert.Equal(Pattern[..8], Stored(m, before, (int)Page - 8, 8));
        Assert.Equal(Pattern[8..], Stored(m, after, 0, 8));
        Assert.Equal(0, Stored(m, before, (int)Page - 9, 1)[0]);
        Assert.Equal(0, Stored(m, after, 8, 1)[0]);
    }

    private static void AssertStraddlesGuestPages(TestMachine m)
    {
        AssertStraddles(m, m.FrameOf(Boundary - Page), m.FrameOf(Boundary));
        Assert.Equal([0xEE, 0, 0, 0, 0, 0, 0, 0], Stored(m, m.FrameOf(Boundary - Page).Add(1), 0, 8));
    }

    [Fact]
    public void HostWriteAndRead_AcrossABoundary()
    {
        var m = Machine();

        Expect.Ok(m.HostWrite(At, Pattern));

        AssertStraddlesGuestPages(m);
        Assert.Equal(Pattern, Expect.Data(m.HostRead(At, Pattern.Length)));
    }

    [Fact]
    public void GuestWriteAndRead_AcrossABoundary()
    {
        var m = Machine();

        Expect.Ok(m.GuestWrite(At, Pattern));

        AssertStraddlesGuestPages(m);
        Assert.Equal(Pattern, Expect.Data(m.GuestRead(At, Pattern.Length)));
    }

    [Fact]
    public void KernelWriteAndRead_OfGuestMemory_AcrossABoundary()
    {
        var m = Machine();

        Expect.Ok(m.Run("kernel.write", gpa: At, data: Pattern));

        AssertStraddlesGuestPages(m);
        Assert.Equal(Pattern, Expect.Data(m.KernelRead(At, Pattern.Length)));
    }

    [Fact]
    public void KernelWriteAndRead_ByPfn_ContinueIntoTheNextFrame()
    {
        var m = Machine();
        var pfn = new Pfn(40);

        Expect.Ok(m.Run("kernel.write", null, pfn: pfn.Value, offset: Page - 8, data: Pattern));

        AssertStraddles(m, pfn, pfn.Add(1));
        Assert.Equal(Pattern, Expect.Data(m.Run("kernel.read", null, pfn: pfn.Value, offset: Page - 8, len: (ulong)Pattern.Length)));
    }

    [Fact]
    public void KvmCopyToAndFromTheGuest_AcrossABoundary()
    {
        var m = Machine();

        Expect.Ok(m.Run("kernel.write", gpa: At, data: Pattern, requester: "kvm"));

        AssertStraddlesGuestPages(m);
        Assert.Equal(Pattern, Expect.Data(m.Run("kernel.read", gpa: At, len: (ulong)Pattern.Length, requester: "kvm")));
    }

    [Fact]
    public void DmaWriteAndRead_AcrossABoundary()
    {
        var m = Machine();

        Expect.Ok(m.Run("device.dma-write", gpa: At, data: Pattern));

        AssertStraddlesGuestPages(m);
        Assert.Equal(Pattern, Expect.Data(m.Run("device.dma-read", gpa: At, len: (ulong)Pattern.Length)));
    }

    [Fact]
    public void ProcMemWriteAndRead_AcrossABoundary()
    {
        var m = Machine();

        Assert.Equal(Pattern.Length, Expect.Count(m.Run("host.procmem-write", gpa: At, data: Pattern)));

        AssertStraddlesGuestPages(m);
        Assert.Equal(Pattern, Expect.Data(m.Run("host.procmem-read", gpa: At, len: (ulong)Pattern.Length)));
    }

    [Fact]
    public void ProcessVmReadv_AcrossABoundary()
    {
        var m = Machine();
        Expect.Ok(m.HostWrite(At, Pattern));

        var outcome = m.Run("host.process-vm-readv", gpa: At, len: (ulong)Pattern.Length);

        Assert.Equal(Pattern, Expect.Data(outcome));
        Assert.Equal(Pattern.Length, outcome.Count);
    }

    [Fact]
    public void PwriteAndPread_OfTheBackingFile_AcrossABoundary()
    {
        var m = Machine(BackingKind.Shmem);

        Assert.Equal(Pattern.Length, Expect.Count(m.Run("host.pwrite", offset: At, data: Pattern)));

        var file = m.VmNamed().File!;
        AssertStraddles(m, file.Lookup((Boundary - Page) >> PageGeometry.PageShift), file.Lookup(Boundary >> PageGeometry.PageShift));
        Assert.Equal(Pattern, Expect.Data(m.Pread(At, Pattern.Length)));
    }

    [Fact]
    public void PreadIntoAVmmBuffer_AcrossABoundary_CopiesToBothPages()
    {
        var m = Machine(BackingKind.Shmem);
        Assert.Equal(Pattern.Length, Expect.Count(m.Run("host.pwrite", offset: 0x100, data: Pattern)));

        // copy_to_user into the VMM's mapping of gpa At, which straddles the boundary.
        Assert.Equal(Pattern.Length, Expect.Count(m.Run(new HostPread((ulong)Pattern.Length, At) { At = new StepAddress(TestMachine.DefaultVm, Offset: 0x100) })));

        AssertStraddlesGuestPages(m);
    }

    [Fact]
    public void PwriteFromAVmmBuffer_AcrossABoundary_CopiesFromBothPages()
    {
        var m = Machine(BackingKind.Shmem);
        Expect.Ok(m.HostWrite(At, Pattern));

        // copy_from_user out of the VMM's mapping of gpa At.
        Assert.Equal(Pattern.Length, Expect.Count(m.Run(new HostPwrite(null, (ulong)Pattern.Length, At) { At = new StepAddress(TestMachine.DefaultVm, Offset: 0x100) })));

        Assert.Equal(Pattern, Expect.Data(m.Pread(0x100, Pattern.Length)));
    }
}
