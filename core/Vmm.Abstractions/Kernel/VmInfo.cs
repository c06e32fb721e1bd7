namespace Vmm.Abstractions;

/// <summary>How a VM's memory is backed in the VMM process (scenario `backing`).</summary>
public enum BackingKind
{
    Anon,
    Shmem,
    Hugetlb,
    File,
    GuestMemfd,
}

/// <summary>A simulated VM as policies see it: one memslot at gpa 0 mapped in the VMM at <see cref="HvaBase"/>.</summary>
public sealed record VmInfo(
    VmId Id,
    string Name,
    bool Protected,
    BackingKind Backing,
    bool Thp,
    ulong MemoryBytes,
    Hva HvaBase,
    KeyId PrivateKey)
{
    /// <summary>The VM's guest_memfd was created with GUEST_MEMFD_FLAG_MMAP (6.18): the VMM maps it at the memslot hva, so shared memory lives in it too.</summary>
    public bool GuestMemfdMappable { get; init; }

    public Hva HvaOf(Gpa gpa) => new(HvaBase.Value + gpa.Value);
    public bool Contains(Gpa gpa) => gpa.Value < MemoryBytes;
}

/// <summary>A kernel version ("5.16", "6.11") for the switches of docs/semantics.md table V.</summary>
public readonly record struct KernelVersion(int Major, int Minor) : IComparable<KernelVersion>
{
    public static readonly KernelVersion Default = new(5, 16);

    public int CompareTo(KernelVersion other) => Major != other.Major ? Major.CompareTo(other.Major) : Minor.CompareTo(other.Minor);
    public bool AtLeast(int major, int minor) => CompareTo(new KernelVersion(major, minor)) >= 0;
    public static bool operator <(KernelVersion a, KernelVersion b) => a.CompareTo(b) < 0;
    public static bool operator >(KernelVersion a, KernelVersion b) => a.CompareTo(b) > 0;
    public static bool operator <=(KernelVersion a, KernelVersion b) => a.CompareTo(b) <= 0;
    public static bool operator >=(KernelVersion a, KernelVersion b) => a.CompareTo(b) >= 0;

    public static bool TryParse(string? text, out KernelVersion version)
    {
        version = Default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var parts = text.Split('.');
        if (parts.Length != 2 || !int.TryParse(parts[0], out var major) || !int.TryParse(parts[1], out var minor) || major < 0 || minor < 0)
            return false;
        version = new KernelVersion(major, minor);
        return true;
    }

    public override string ToString() => $"{Major}.{Minor}";
}
