using Vmm.Abstractions;
using Vmm.Core.Machine;
using Vmm.Core.Tests.Infrastructure;

namespace Vmm.Core.Tests.Machine;

/// <summary>The VMM's user address space ends at 0x800000000000: mappings past it are mmap's ENOMEM, wrapping ranges are errnos.</summary>
public class AddressSpaceLimitTests
{
    private const ulong MiB = TestMachine.MiB;
    private const ulong TiB = 1UL << 40;

    [Fact]
    public void MmapBacking_WhenTheVmsFillUserSpace_IsEnomem()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, TiB, BackingKind.Shmem)] });
        Assert.Equal(Process.UserSpaceEnd, m.VmmProcess.MmapCursor);

        Expect.Error(Errno.ENOMEM, m.Run("host.mmap-backing", offset: 0, size: 4096));

        Assert.Single(m.VmmProcess.Vmas);
    }

    [Fact]
    public void AVmTooLargeForWhatIsLeftAboveTheBase_IsMappedBelowIt_AndMmapBackingStaysAbove()
    {
        var m = TestMachine.Create(new MachineSetup
        {
            Vms = [TestMachine.Vm("first", TiB - (1UL << 30), BackingKind.Shmem), TestMachine.Vm("second", 2 * TiB, BackingKind.Shmem), TestMachine.Vm(TestMachine.DefaultVm, 4 * MiB, BackingKind.Shmem)],
        });

        Assert.Equal(Process.MmapBase, m.HvaOf(0, "first"));
        Assert.Equal(Process.MmapBase - 2 * TiB, m.HvaOf(0, "second"));
        Assert.Equal(Process.MmapBase + TiB - (1UL << 30), m.HvaOf(0)); // the last GiB above the base is still free
        Expect.Error(Errno.ENOMEM, m.Run("host.mmap-backing", offset: 0, size: 4096)); // mmap-backing never goes below
        Expect.Ok(m.HostWrite(0x1000, 0x5a, vm: "second"));
        Assert.Equal(m.FrameOf(0x1000, "second"), m.VmmPte(0x1000, "second").Pfn); // the VMM touched the VM below the base through its own mapping
    }

    [Fact]
    public void MmapBacking_ThatWouldEndPastUserSpace_IsEnomemAndTheCursorStays()
    {
        var m = TestMachine.Create(BackingKind.Shmem);
        var cursor = m.VmmProcess.MmapCursor;

        Expect.Error(Errno.ENOMEM, m.Run("host.mmap-backing", offset: 0, size: Process.UserSpaceEnd - cursor + 4096));
        Expect.Error(Errno.ENOMEM, m.Run("host.mmap-backing", offset: 0, size: ulong.MaxValue));

        Assert.Equal(cursor, m.VmmProcess.MmapCursor);
        var last = Expect.Count(m.Run("host.mmap-backing", offset: 0, size: Process.UserSpaceEnd - cursor)); // exactly to the end fits
        Assert.Equal((long)cursor, last);
    }

    [Theory]
    [InlineData(0x7fff_ffff_f000UL, 0x2000UL)]
    [InlineData(0x8000_0000_0000UL, 0x1000UL)]
    [InlineData(0xffff_ffff_ffff_f000UL, 0x2000UL)]
    public void MmapBacking_FixedPastUserSpace_IsEnomem(ulong hva, ulong size)
    {
        var m = TestMachine.Create(BackingKind.Shmem);

        Expect.Error(Errno.ENOMEM, m.Run("host.mmap-backing", offset: 0, size: size, hva: hva));

        Assert.Single(m.VmmProcess.Vmas);
    }

    [Theory]
    [InlineData(0UL, 0UL)]
    [InlineData(0x800UL, 4096UL)]
    public void MmapBacking_OfZeroLengthOrAnUnalignedOffset_IsEinval(ulong offset, ulong size)
    {
        var m = TestMachine.Create(BackingKind.Shmem);

        Expect.Error(Errno.EINVAL, m.Run("host.mmap-backing", offset: offset, size: size));
    }

    [Fact]
    public void MmapBacking_OfAnUnalignedLength_MapsWholePages()
    {
        var m = TestMachine.Create(BackingKind.Shmem);

        var hva = (ulong)Expect.Count(m.Run("host.mmap-backing", offset: 0, size: 100));

        Assert.Equal(hva + 4096, m.VmmProcess.FindVma(hva)!.End);
    }

    [Theory]
    [InlineData(0x7fff_ffff_f000UL, 0x2000UL)]
    [InlineData(0xffff_ffff_ffff_f000UL, 0x2000UL)]
    [InlineData(0x1000UL, ulong.MaxValue)]
    public void Munmap_OfARangeOutsideUserSpace_IsEinval(ulong hva, ulong size)
    {
        var m = TestMachine.Create();

        Expect.Error(Errno.EINVAL, m.Run("host.munmap", null, hva: hva, size: size));
    }

    [Fact]
    public void Madvise_OfAWrappingRange_IsEinval()
    {
        var m = TestMachine.Create();

        Expect.Error(Errno.EINVAL, m.Madvise(0x1000, ulong.MaxValue, "DONTNEED"));
    }

    [Theory]
    [InlineData(0UL, 0UL, Errno.EINVAL)]
    [InlineData(0x8000_0000_0000_0000UL, 4096UL, Errno.EINVAL)]
    [InlineData(0x7fff_ffff_ffff_f000UL, 0x2000UL, Errno.EFBIG)]
    public void Fallocate_OfAnEmptyNegativeOrOverflowingRange_IsAnErrno(ulong offset, ulong size, Errno errno)
    {
        var m = TestMachine.Create(BackingKind.Shmem);

        Expect.Error(errno, m.Run("host.fallocate", offset: offset, size: size));
    }

    [Fact]
    public void Fallocate_PunchHoleOfTheWhole1TiBFile_DropsTheTouchedPagesAndScansOnlyTheirChunks()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, TiB, BackingKind.Shmem)] });
        ulong[] touched = [0, TiB / 2, TiB - 4096];
        foreach (var gpa in touched) Expect.Ok(m.HostWrite(gpa, 7, 8));
        var file = m.VmNamed().File!;
        var scanned = file.ScannedBlocks;

        var outcome = m.Simulation.Execute(new Vmm.Core.Scenarios.StepSpec { Index = 0, Op = new Vmm.Core.Engine.Ops.Fallocate(TiB, ["PUNCH_HOLE", "KEEP_SIZE"]) { At = new(TestMachine.DefaultVm, Offset: 0) } });

        Expect.Ok(outcome);
        Assert.All(touched, gpa => Assert.False(m.FrameOf(gpa).IsValid));
        Assert.Equal(1, m.Kernel.Mm.Allocator.AllocatedFrames);
        Assert.InRange(file.ScannedBlocks - scanned, 1, 64); // 16 top slots and 3 chunks, not 65536 chunk slots
    }

    [Fact]
    public void MunmapAndDontNeed_OfA1TiBVm_DropOnlyWhatIsMapped()
    {
        var m = TestMachine.Create(new MachineSetup { Vms = [TestMachine.Vm(TestMachine.DefaultVm, TiB)] });
        foreach (var gpa in new[] { 0UL, TiB / 2, TiB - 4096 }) Expect.Ok(m.HostWrite(gpa, 7, 8));

        Expect.Ok(m.Madvise(0, TiB / 2 + 4096, "DONTNEED"));
        Assert.Equal(2, m.Kernel.Mm.Allocator.AllocatedFrames);
        Expect.Ok(m.Munmap(0, TiB));

        Assert.Equal(1, m.Kernel.Mm.Allocator.AllocatedFrames);
        Assert.Empty(m.VmmProcess.Vmas);
    }
}
